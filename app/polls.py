"""Status timers that poll only while someone looks: a tab's timers tick while its tab is shown, the Jobs
panel's while the panel is open; a page on another tab sends no polls.

A tab creates its timers with ``tab_timer`` inside its ``gr.Tab``; ``wire_tabs`` (called once the tabs are
built) makes selecting a tab switch its own timers on and every other tab's off, and run its polls once. The timers' tick events keep
their API names: an API client calls them whatever a page shows.
"""

from __future__ import annotations

from functools import partial

import gradio as gr


def tab_timer(seconds: float, first_tab: bool = False) -> gr.Timer:
    """A timer of the tab being built: off until ``wire_tabs`` switches it on with its tab (on from the start
    in the tab a page opens on)."""
    return gr.Timer(seconds, active=first_tab)


def timers_in(block) -> list[gr.Timer]:
    found = []
    for child in getattr(block, "children", []):
        found += [child] if isinstance(child, gr.Timer) else timers_in(child)
    return found


def tabs_in(block) -> list[gr.Tab]:
    found = []
    for child in getattr(block, "children", []):
        found += [child] if isinstance(child, gr.Tab) else tabs_in(child)
    return found


def switched(timers: list[gr.Timer], own: set[int]) -> list:
    return [gr.Timer(active=timer._id in own) for timer in timers]


def ticks_of(root: gr.Blocks, timers: list[gr.Timer]) -> list:
    """The handlers registered on ``timers``' ticks, in the order they were wired."""
    ids = {timer._id for timer in timers}
    return [fn for fn in root.fns.values() if any(target in ids and event == "tick" for target, event in fn.targets)]


def wire_tabs(root: gr.Blocks) -> dict:
    """Selecting a tab turns its timers on and the others off, then runs its polls once, so what it shows is
    fresh at once rather than one interval later. Returns {tab label: its timers}."""
    owned = {tab: timers_in(tab) for tab in tabs_in(root)}
    timers = [timer for own in owned.values() for timer in own]
    for tab, own in owned.items():
        event = tab.select(partial(switched, timers, {timer._id for timer in own}), None, timers,
                           show_progress="hidden", api_visibility="private")
        for poll in ticks_of(root, own):
            event = event.then(poll.fn, poll.inputs, poll.outputs, show_progress="hidden", api_visibility="private")
    return {tab.label: own for tab, own in owned.items()}


def panel_timer(panel: gr.Accordion, seconds: float, fn, outputs) -> gr.Timer:
    """A timer that ticks while ``panel`` is open; opening it also refreshes ``outputs`` at once."""
    timer = gr.Timer(seconds, active=panel.open)
    panel.expand(lambda: [gr.Timer(active=True), fn()], None, [timer, outputs], show_progress="hidden",
                 api_visibility="private")
    panel.collapse(lambda: gr.Timer(active=False), None, timer, show_progress="hidden", api_visibility="private")
    return timer
