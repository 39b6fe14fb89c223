"""A user's mistake (an empty field, a missing folder, a bad number): one readable message in the UI and
one line in the server log, never a traceback. Bugs stay ordinary exceptions, with their traceback."""

from __future__ import annotations

import sys

import gradio as gr


class UserError(gr.Error):
    def __init__(self, message: str):
        super().__init__(message, print_exception=False)
        print(f"user error: {message}", file=sys.stderr, flush=True)
