"""A bare Gradio Blocks app, started the way ``launch.py`` starts the studio: the baseline of ``ui_start``.

    python bench/bare_app.py PORT
"""

import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

with gr.Blocks(title="bare") as demo:
    gr.Markdown("bare")
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True)
