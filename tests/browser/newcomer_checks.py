"""What a newcomer met (issue 25), checked on the page where the walkthrough's two flows pass by (no app
launch of its own). Each check asserts what the user sees: a field's value, a refusal's toast, a table's
cells, a status box, a progress bar.

- Compare follows the project's folders and refuses a Run folder that does not exist; its grid job shows a
  progress bar (item 1);
- a merge strength above its range is refused by name, and the merge's status names its path and strength (2);
- the Dataset table shows what Save sidecar, CSV import and Apply to all wrote, without a Scan (3);
- a double click on Preprocess queues one job, whose result stays in the Status box (4);
- the layer-sensitivity estimate reports back in its tab (7);
- an offline download says what to fetch; "Write the tiny demo model" says what it wrote (8);
- a 1-second song, an unreadable file and a key of "H major" are refused, and no sidecar is written for the
  files that are not audio (9);
- the Jobs table says what an exit code means, and "CPU" for jobs on a machine without a GPU (10);
- the wording: a number out of range said once, by the field's name; "Learning rate", "an output folder",
  no raw "[Errno 2]" (11).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import expect
from studio_page import (TIMEOUT, after_a_tick, click, error_toasts, fill, job_row, refused, settle, shot,
                         status_box, tab, wait_text)


def a_number_is_refused_once_by_name(page) -> None:
    """Preprocess's "Max seconds per song" at -5: one message, naming the field, never Gradio's own."""
    fill(page, "Max seconds per song", "-5")
    said = refused(page, "Preprocess", "Max seconds per song: -5 is below its minimum, 1")
    assert len([text for text in said if "-5" in text]) == 1 and not [t for t in said if "Value -5" in t], said
    fill(page, "Max seconds per song", "240")


def one_job_per_double_click(page, ticks: list, job: str, store, tensors) -> None:
    """After a double click: the finished job's result is still in the Status box a poll later (no second job
    replaced it with "0 done, 3 unchanged"), and the studio holds one preprocess job for the folder."""
    after_a_tick(page, ticks)
    status = status_box(page).input_value()
    assert status.startswith(f"preprocess {job}: finished, 1 skipped\nSummary: 3 done"), status
    assert [j.id for j in store.jobs() if j.kind == "preprocess" and j.output_dir == str(tensors)] == [job]


def compare_follows_the_project(page, project, jobs: Path) -> None:
    """Compare's folders are the project's; a missing Run folder is refused before any job; the grid of the
    project's run renders as a job whose progress is a bar (screenshot ``10-compare-progress-bar``).
    ``jobs``: the studio's job records, where the job this click starts is told from earlier tests' ones."""
    tab(page, "Compare")
    run = page.get_by_label("Run folder", exact=True).filter(visible=True).first
    assert run.input_value() == str(project / "runs" / "run")  # the run that trained last
    assert page.get_by_label("Grid folder").input_value() == str(project / "compare")
    assert page.get_by_label("Export folder").filter(visible=True).first.input_value() == \
        str(project / "exports" / "chosen")
    missing = project / "runs" / "no-such-run"
    run.fill(str(missing))
    refused(page, "Render grid", f"Run folder: {missing} does not exist")
    assert not (project / "compare").exists()  # nothing was queued or written
    run.fill(str(project / "runs" / "run"))
    for name, value in (("Checkpoints (best, final, every:N, step numbers)", "final"), ("Strengths", "1"),
                        ("Prompt 1 caption (with the trigger word)", "zzq warm pads"), ("Seconds per clip", "1"),
                        ("Steps (blank: the variant's)", "2")):
        page.get_by_label(name).filter(visible=True).first.fill(value)  # the label's start: it may say more
    before = job_ids(jobs, "compare")
    page.get_by_role("button", name="Render grid").click()
    job = new_job(jobs, "compare", before)
    bar = page.locator(".job-progress[role='progressbar']").filter(visible=True).first
    expect(bar).to_have_attribute("aria-label", f"compare {job}: 2/2 renders · 100% · finished",
                                  timeout=TIMEOUT * 1000)  # the base, then the final adapter
    players = page.locator("label[data-testid='block-label']")  # the grid it rendered: the base's player
    players.filter(has_text="base model (reference)").first.wait_for(timeout=60_000)
    bar.scroll_into_view_if_needed()
    shot(page, "10-compare-progress-bar")


def job_ids(jobs: Path, kind: str) -> set[str]:
    return {folder.name for folder in jobs.glob(f"*-{kind}-*")}


def new_job(jobs: Path, kind: str, before: set[str], timeout: float = 60) -> str:
    """The id of the ``kind`` job recorded since ``before`` (the status box may still show an earlier test's
    job of that kind until its next poll, so the box cannot tell which job the click started)."""
    deadline = time.monotonic() + timeout
    while not (fresh := job_ids(jobs, kind) - before):
        assert time.monotonic() < deadline, f"no new {kind} job in {jobs}"
        time.sleep(0.1)
    assert len(fresh) == 1, fresh
    return fresh.pop()


def unusable_songs_are_said(page) -> None:
    """The Scan table says why the 1-second song and the unreadable file are left out."""
    rows = page.locator(".virtual-row[role=row]")
    expect(rows.filter(has_text="blip.wav").filter(has_text="too short (1.0 s < 10 s)")).to_have_count(1)
    expect(rows.filter(has_text="fake.mp3").filter(has_text="unreadable")).to_have_count(1)


def the_table_follows_each_edit(page, songs) -> None:
    """H major refused; Save sidecar, CSV import and Apply to all each show in the table and its summary at
    once (no Scan between); a CSV that is not there is said in words; unusable files get no sidecar."""
    rows = page.locator(".virtual-row[role=row]")
    rows.get_by_role("gridcell", name="take1.wav", exact=True).first.click()  # a click picks and opens the song
    settle(page)
    click(page, "Open")
    fill(page, "Key (e.g. E minor)", "H major")
    refused(page, "Save sidecar", "take1.wav: keyscale (Key): 'H major' is not a key")
    assert not (songs / "take1.json").exists()  # nothing written
    fill(page, "Key (e.g. E minor)", "")
    fill(page, "Caption", "a fast take")
    click(page, "Save sidecar")
    expect(rows.filter(has_text="take1.wav").filter(has_text="a fast take")).to_have_count(1)
    page.get_by_text("4 files: 2 usable, 2 unusable, 1 captioned").wait_for(timeout=30_000)
    page.get_by_text("Bulk edit and import").click()
    fill(page, "Import captions from a CSV or a dataset.json", str(songs / "nothing.csv"))
    said = refused(page, "Import", f"Import: {songs / 'nothing.csv'} does not exist")
    assert not [text for text in said if "Errno" in text], said
    fill(page, "Import captions from a CSV or a dataset.json", str(songs / "take.csv"))
    click(page, "Import")
    expect(rows.filter(has_text="take0.wav").filter(has_text="a slow take")).to_have_count(1)
    page.get_by_text("4 files: 2 usable, 2 unusable, 2 captioned").wait_for(timeout=30_000)
    page.get_by_label("Field", exact=True).click()
    page.get_by_role("option", name="bpm", exact=True).click()
    fill(page, "Value for every song", "97")
    click(page, "Apply to all")
    page.get_by_text(re.compile(r"bpm set on 2 songs\. Left out, not usable audio: blip\.wav \(.*\), fake\.mp3"))\
        .wait_for(timeout=30_000)
    expect(rows.filter(has=page.get_by_role("gridcell", name="97", exact=True))).to_have_count(2)
    assert not (songs / "fake.json").exists() and not (songs / "blip.json").exists()


def split_says_where(page, project) -> None:
    page.get_by_text("Split long songs").click()
    fill(page, "Output folder", "")
    refused(page, "Split", "Enter an output folder.")
    fill(page, "Output folder", str(project / "split"))
    click(page, "Split")
    page.get_by_text(f"songs in {project / 'split'}").wait_for(timeout=60_000)


def learning_rate_zero_is_refused(page) -> None:
    typed = page.get_by_label("Learning rate", exact=True).input_value()
    fill(page, "Learning rate", "0")
    said = refused(page, "Start", "Learning rate must be above 0; 0 was typed")
    assert not [text for text in said if "optim.lr" in text], said
    fill(page, "Learning rate", typed)


def the_estimate_reports_in_its_tab(page) -> None:
    report = wait_text(page.get_by_label("Layer sensitivity", exact=True), "Tick 'Train the layers", TIMEOUT)
    assert "layers selected" in report, report


def jobs_table_says_exit_codes(page, skipped_some: str) -> None:
    """The preprocess that skipped the unusable songs: exit 10 in words; no GPU here, so "CPU"."""
    row = job_row(page, skipped_some)
    row.get_by_role("gridcell", name="10 (finished, some songs skipped)", exact=True).wait_for(timeout=30_000)
    expect(row.get_by_role("gridcell", name="CPU", exact=True)).to_have_count(1)


def merge_strength(page, merged) -> None:
    """5 is refused by the field's name before any job; 1.5 merges, and the status names path and strength."""
    fill(page, "Merge strength (0 to 2; 1 = as trained)", "5")
    said = refused(page, "Merge into the base model",
                   "Merge strength: 5 is outside its range, 0 to 2; nothing was started")
    assert not [text for text in said if "greater than maximum" in text], said
    fill(page, "Merge strength (0 to 2; 1 = as trained)", "1.5")
    click(page, "Merge into the base model")
    status = wait_text(page.get_by_label("Merge", exact=True), ": finished", TIMEOUT)
    assert "at strength 1.5" in status and str(merged) in status, status


def demo_model_and_offline_download(page, first: bool) -> None:
    """``first``: "Write the tiny demo model" says what it wrote; else Download, with no hub: it says what
    to fetch by hand, never "download finished"."""
    tab(page, "Service")
    if first:
        click(page, "Write the tiny demo model")
        page.get_by_text("Wrote the tiny demo model: tiny-turbo, tiny-base in").wait_for(timeout=30_000)
        return
    click(page, "Download (official repositories only)")
    page.get_by_text("Started downloading turbo").wait_for(timeout=30_000)
    box = page.get_by_role("textbox", name="Download", exact=True)  # (the players' buttons are "Download" too)
    said = wait_text(box, "Without internet, fetch these", TIMEOUT)
    assert "download finished" not in said and "acestep-v15-turbo" in said, said
    assert error_toasts(page) == []
