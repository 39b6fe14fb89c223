"""Wire a handler to components by name, never by position.

A tab keeps its inputs in a dict ``{name: component}``; ``named(fields, fn)`` gives Gradio a
handler whose parameters carry those names (so the API takes them as keywords, with the
components' defaults, None for a blank one) and calls ``fn(values)`` with ``values = {name: value}``,
or with the tab's typed form (``app.forms``) when ``form`` is given; the names are checked against the form
when the tab is built.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import gradio as gr

from app.forms import Form


def named(fields: dict, fn: Callable, form: type[Form] | None = None) -> tuple[Callable, list]:
    """(handler, inputs) for ``event(handler, inputs, outputs)``; ``fn`` gets ``form.of(values)`` if a form is given."""
    names = list(fields)
    texts = {name for name, box in fields.items() if isinstance(box, (gr.Textbox, gr.Code))}
    if form is not None:
        form.check(names)

    def handler(*values):  # a text field left out by an API client reads as blank, as in the browser
        given = {name: "" if value is None and name in texts else value for name, value in zip(names, values)}
        return fn(form.of(given) if form is not None else given)

    handler.__signature__ = inspect.Signature(  # default None: an API client may leave a blank field out
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for name in names])
    return handler, list(fields.values())


def first_cell(event: gr.SelectData) -> str:
    """A click on a table row: its first cell (the row's name)."""
    return str(event.row_value[0])
