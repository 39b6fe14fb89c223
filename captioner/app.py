"""The captioner app (port 7862). Its backends arrive with the captioner issue."""

from __future__ import annotations

import gradio as gr


def build_captioner_app() -> gr.Blocks:
    with gr.Blocks(title="ACE-Step Studio — Captioner") as demo:
        gr.Markdown("# ACE-Step Studio — Captioner")
        with gr.Tab("Caption"):
            gr.Markdown("Not built yet: captions, BPM/key and lyrics for a folder of songs.")
    return demo
