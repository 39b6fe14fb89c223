"""The status timers poll only while someone looks: a tab's while it is shown, the Jobs panel's while open
(issue 13: six timers polling every 2-3 s kept Chromium busy on a page nobody watched)."""

from __future__ import annotations

import gradio as gr
import pytest

from app.context import AppContext
from app.polls import timers_in
from app.settings import make_settings
from app.trainer import build_trainer_app

POLLED = {"3 · Auto-label": "autolabel_status", "4 · Preprocess": "preprocess_status", "5 · Train": "train_status",
          "6 · Export & merge": "merge_status", "Compare": "compare_status", "Service": None}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("polls")
    roots = [str(base / "ck"), str(base / "state")]
    settings = make_settings("127.0.0.1", 7861, False, None, roots, False,
                             state_dir=str(base / "studio-state"))  # its own job records: no other test's jobs
    return build_trainer_app(AppContext(settings, base / "ck", base / "state"))


def handler(demo, block, event: str):
    """The one function an event of ``block`` runs (the switches are plain functions, no inputs)."""
    found = [fn for fn in demo.fns.values() if (block._id, event) in fn.targets]
    assert len(found) == 1, f"{event} of {block}: {len(found)} handlers"
    return found[0]


def active(update) -> bool:
    return update.active if isinstance(update, gr.Timer) else update["active"]


def test_every_timer_starts_off(demo):
    timers = [block for block in demo.blocks.values() if isinstance(block, gr.Timer)]
    assert len(timers) == len(POLLED) + 1  # each polled tab's and the Jobs panel's
    assert not [timer for timer in timers if timer.active]


def test_showing_a_tab_turns_on_its_timers_only(demo):
    tabs = {block.label: block for block in demo.blocks.values() if isinstance(block, gr.Tab)}
    assert {label for label, tab in tabs.items() if timers_in(tab)} == set(POLLED)
    for label, tab in tabs.items():
        switch = handler(demo, tab, "select")
        updates = dict(zip([block._id for block in switch.outputs], switch.fn()))
        own = {timer._id for timer in timers_in(tab)}
        assert {block_id for block_id, update in updates.items() if active(update)} == own, label
        assert len(updates) == len(POLLED)  # every tab timer is switched, on or off


def test_showing_a_tab_refreshes_what_it_polls_at_once(demo):
    """A timer switched on ticks one interval later; the tab's select runs its polls straight away."""
    tabs = {block.label: block for block in demo.blocks.values() if isinstance(block, gr.Tab)}
    for label in POLLED:
        timers = {timer._id for timer in timers_in(tabs[label])}
        polls = [fn.fn for fn in demo.fns.values() if any(t in timers and e == "tick" for t, e in fn.targets)]
        chained = [fn.fn for fn in demo.fns.values() if fn.trigger_after is not None
                   and fn.trigger_after == handler(demo, tabs[label], "select")._id]
        assert polls and chained[:1] == polls[:1], label  # the first poll follows the switch


def test_the_jobs_panel_polls_while_open(demo):
    panel = next(block for block in demo.blocks.values() if isinstance(block, gr.Accordion)
                 and block.label.startswith("Jobs"))
    opened = handler(demo, panel, "expand")
    timer, table = opened.outputs
    on, rows = opened.fn()
    assert isinstance(demo.blocks[timer._id], gr.Timer) and active(on) and rows == []  # no job yet
    assert not active(handler(demo, panel, "collapse").fn())


def test_the_polls_keep_their_api_names(demo):
    names = {fn.api_name for fn in demo.fns.values()}
    assert {"jobs", *filter(None, POLLED.values())} <= names


def test_the_captioner_polls_its_caption_tab_only_while_shown(tmp_path):
    from captioner.app import build_captioner_app

    roots = [str(tmp_path / "ck"), str(tmp_path / "state")]
    app = build_captioner_app(AppContext(make_settings("127.0.0.1", 7862, False, None, roots, False), tmp_path / "ck",
                                         tmp_path / "state"))
    tabs = {block.label: block for block in app.blocks.values() if isinstance(block, gr.Tab)}
    (timer,) = timers_in(tabs["Caption"])
    assert timer.active  # the page opens on the Caption tab: its status polls from the start
    switch = handler(app, tabs["Review"], "select")
    assert not active(dict(zip([b._id for b in switch.outputs], switch.fn()))[timer._id])


def test_each_numbered_tab_ends_with_a_next_step_button_that_opens_the_next_tab(demo):
    from app.polls import tabs_in

    tabs = [tab for tab in tabs_in(demo) if tab.label[0].isdigit()]
    assert [tab.label[0] for tab in tabs] == list("123456")
    following = [tab.label for tab in tabs[1:]] + ["Compare"]
    for tab, after in zip(tabs, following):
        button = tab.children[-1]  # the last thing on the tab
        assert isinstance(button, gr.Button) and button.value == f"Next step: {after} →", tab.label
        click = handler(demo, button, "click")
        assert click.fn is None and f'=== "{after}"' in click.js and ".click()" in click.js  # the browser selects it


def test_a_picked_preview_step_is_held_for_the_train_poll(demo):
    picker = next(block for block in demo.blocks.values() if isinstance(block, gr.Dropdown)
                  and (block.label or "").startswith("Preview step"))
    pick = handler(demo, picker, "input")
    assert pick.fn("3") == 3 and pick.fn(6) == 6 and pick.fn(None) is None  # None: the newest step
    held = pick.outputs[0]
    poll = next(fn for fn in demo.fns.values() if fn.api_name == "train_status")
    assert isinstance(held, gr.State) and held in poll.inputs  # every later tick draws the picked step
