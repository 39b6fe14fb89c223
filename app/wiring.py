"""Wire a handler to components by name, never by position.

A tab keeps its inputs in a dict ``{name: component}``; ``named(fields, fn)`` gives Gradio a
handler whose parameters carry those names (so the API takes them as keywords, with the
components' defaults, None for a blank one) and calls ``fn(values)`` with ``values = {name: value}``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import gradio as gr


def named(fields: dict, fn: Callable[[dict], object]) -> tuple[Callable, list]:
    """(handler, inputs) for ``event(handler, inputs, outputs)``."""
    names = list(fields)
    texts = {name for name, box in fields.items() if isinstance(box, (gr.Textbox, gr.Code))}

    def handler(*values):  # a text field left out by an API client reads as blank, as in the browser
        return fn({name: "" if value is None and name in texts else value for name, value in zip(names, values)})

    handler.__signature__ = inspect.Signature(  # default None: an API client may leave a blank field out
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for name in names])
    return handler, list(fields.values())


def first_cell(event: gr.SelectData) -> str:
    """A click on a table row: its first cell (the row's name)."""
    return str(event.row_value[0])
