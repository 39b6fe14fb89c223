"""A "Next step" button at the end of each numbered tab: it opens the following tab (1 · Project ... 6 · Export
& merge, then Compare), as clicking that tab would (so the tab's own polls switch on with it).

The buttons are added once every tab is built (``add_next_buttons``), so no tab module needs to know its
neighbour; the click runs in the browser only (Gradio tabs are selected by their buttons).
"""

from __future__ import annotations

import json
import re

import gradio as gr

from app.polls import tabs_in

NUMBERED = re.compile(r"^(\d+) · ")
AFTER_THE_LAST = "Compare"  # where the numbered path leads once an adapter is exported


def next_tab_js(label: str) -> str:
    """Click the tab called ``label`` and scroll to the top of the page."""
    return ("() => { const tab = [...document.querySelectorAll('button[role=\"tab\"]')]"
            f".find((b) => b.textContent.trim() === {json.dumps(label, ensure_ascii=False)});"
            " if (tab) { tab.click(); window.scrollTo({top: 0}); } }")


def path_of_tabs(root: gr.Blocks) -> list[gr.Tab]:
    """The numbered tabs in their order, then the tab after the last one (if there is one)."""
    tabs = tabs_in(root)
    numbered = sorted((tab for tab in tabs if NUMBERED.match(tab.label or "")),
                      key=lambda tab: int(NUMBERED.match(tab.label).group(1)))
    return numbered + [tab for tab in tabs if tab.label == AFTER_THE_LAST]


def add_next_buttons(root: gr.Blocks) -> dict[str, gr.Button]:
    """{tab label: its Next step button} for every numbered tab; call inside ``root`` once the tabs are built."""
    path = path_of_tabs(root)
    buttons = {}
    for tab, following in zip(path, path[1:]):
        if not NUMBERED.match(tab.label):
            continue
        with tab:  # appended after what the tab built
            buttons[tab.label] = gr.Button(f"Next step: {following.label} →", elem_classes="next-step", size="lg")
        buttons[tab.label].click(None, js=next_tab_js(following.label), api_visibility="private")
    return buttons
