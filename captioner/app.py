"""The captioner app (port 7862). Its model backends arrive with the captioner issue."""

from __future__ import annotations

import gradio as gr


def build_captioner_app(trainer_url: str | None = None) -> gr.Blocks:
    with gr.Blocks(title="ACE-Step Studio - Captioner") as demo:
        gr.Markdown("# ACE-Step Studio - Captioner" + (f"  \n[Open the trainer]({trainer_url})" if trainer_url else ""))
        with gr.Tab("Caption"):
            gr.Markdown("Not built yet: captions and lyrics models. BPM, key and duration work today in the "
                        "trainer's Auto-label tab and with `python -m acestep_train analyze-audio`.")
    return demo
