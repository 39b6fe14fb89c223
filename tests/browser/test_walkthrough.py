"""A musician's path in headless Debian Chromium on the demo model: new project -> songs in -> scan ->
label -> preprocess -> train (two runs) -> listen -> export, with a screenshot per step
(``test-artifacts/screenshots/``), asserting the defects of issue 13 are gone:

- an empty folder is refused with a message, never read as the app's own folder;
- auto-label keeps BPM and key that came from an imported CSV, and its outcome stays on screen;
- a preprocess with a broken file reads "finished, 1 skipped" with its summary, not "failed";
- a second Start queues and says why, while the tab keeps showing and controlling the running run;
  Sample now / Stop act on the run on screen, and their message is not overwritten by the poll;
- a reload keeps the project and the typed settings; text typed right after loading is kept;
- the previews say their step and strength, and every one stays in the preview history; the run's progress is
  a bar with its ETA; export says which file is for which program;
- and what a newcomer met in issue 25 (``newcomer_checks.py``), checked along both flows: Compare follows the
  project and shows its grid job's progress bar, refusals by name (merge strength, numbers, H major, a missing
  CSV or Run folder), the Dataset table after each edit, one job per double click, the estimate's report, the
  offline download, the Jobs table's exit codes.
Needs the Debian ``chromium`` package (``.ci/run`` installs it); playwright drives it.
"""

from __future__ import annotations

import json
import re
import time

import newcomer_checks as newcomer
import soundfile
from playwright.sync_api import expect
from audio_fixtures import tone
from studio_page import (TIMEOUT, after_a_tick, click, close_toasts, errors_on_screen, fill, job_row, needs_chromium,
                         open_browser, pick_job, settle, shot, started_job, status_box, tab, timer_ticks, wait_job,
                         wait_text)

pytestmark = needs_chromium


def songs_in(folder) -> None:
    """What the musician copies in: three songs, one broken file, and a CSV from another tool."""
    for index in range(3):
        soundfile.write(folder / f"song{index}.wav", tone(10.4 + 0.4 * index, freq=220 + 70 * index), 48000)
    (folder / "broken.wav").write_bytes(b"RIFF this is not audio")
    (folder / "labels.csv").write_text("filename,caption,genre,bpm,keyscale,timesignature,lyrics,language\n"
                                       "song0.wav,warm synth pads,ambient,128,G major,4,,en\n"
                                       "song1.wav,dusty drums,,,,,,\nsong2.wav,bright piano,,,,,,\n")


def new_project_and_scan(page, studio) -> None:
    page.goto(studio.url)
    tab(page, "1 · Project")
    project = studio.base / "datasets" / "my-band"
    page.get_by_label("Project folder (new or existing)").fill(str(project))
    page.get_by_role("button", name="Open or create").click()
    page.get_by_text("Created songs, tensors, runs, exports").wait_for(timeout=60_000)
    shot(page, "01-project")
    songs_in(project / "songs")
    tab(page, "2 · Dataset")
    folder = page.get_by_label("Song folder").first
    assert folder.input_value() == str(project / "songs")  # the tab took its folder from the project
    folder.fill("")  # an empty field is refused, never read as the app's own folder
    page.get_by_role("button", name="Scan", exact=True).click()
    page.get_by_text("Enter a song folder.").first.wait_for(timeout=30_000)
    close_toasts(page)
    folder.fill(str(project / "songs"))
    page.get_by_role("button", name="Scan", exact=True).click()
    page.get_by_text("4 files: 3 usable, 1 unusable").wait_for(timeout=60_000)
    page.get_by_text("Bulk edit and import").click()
    page.get_by_label("Import captions from a CSV or a dataset.json").fill(str(project / "songs" / "labels.csv"))
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("3 sidecars filled from labels.csv").wait_for(timeout=30_000)
    shot(page, "02-dataset")


def label(page, studio, ticks: list) -> None:
    tab(page, "3 · Auto-label")
    page.get_by_label("Only songs missing these fields").uncheck()  # label every song, imported ones too
    page.get_by_role("button", name="Label", exact=True).click()
    job = started_job(page, "autolabel")
    status = wait_job(page, "autolabel", job)
    status = wait_text(status_box(page), "Summary:", 60)
    assert status.startswith(f"autolabel {job}: finished") and "labelled" in status
    after_a_tick(page, ticks)  # the poll ran again: the button's message is still there
    assert page.get_by_text("Started autolabel job").is_visible()
    song0 = json.loads((studio.base / "datasets" / "my-band" / "songs" / "song0.json").read_text())
    assert (song0["bpm"], song0["keyscale"]) == (128, "G major")  # the import's values are the user's
    shot(page, "03-autolabel")


def preprocess(page, studio, ticks: list) -> None:
    from acestep_train.jobs import JobStore

    tab(page, "4 · Preprocess")
    newcomer.a_number_is_refused_once_by_name(page)
    page.get_by_role("button", name="Preprocess", exact=True).dblclick()  # an impatient double click
    job = started_job(page, "preprocess")
    status = wait_job(page, "preprocess", job)
    status = wait_text(status_box(page), "Summary:", 60)
    assert ": finished, 1 skipped\nSummary: 3 done" in status and "skipped broken.wav" in status
    assert "failed" not in status
    newcomer.one_job_per_double_click(page, ticks, job, JobStore(studio.base / "studio-state" / "jobs"),
                                      studio.base / "datasets" / "my-band" / "tensors")
    shot(page, "04-preprocess")


def two_runs(page, studio) -> tuple[str, str]:
    """Start run A, then run B (queued behind A); the tab keeps showing and controlling A."""
    tab(page, "5 · Train")
    for name, value in (("Epochs", "400"), ("Crop frames, 25 per second", "30"),
                        ("Preview every N steps (0: off)", "3")):
        fill(page, name, value)
    page.get_by_role("button", name="Start", exact=True).click()
    first = re.search(r"Started train job (\S+) ", page.get_by_text("Started train job").inner_text()).group(1)
    fill(page, "Run folder", str(studio.base / "datasets" / "my-band" / "runs" / "second"))
    page.get_by_role("button", name="Start", exact=True).click()
    queued = page.get_by_text("Queued train job")
    queued.wait_for(timeout=60_000)
    second = re.search(r"Queued train job (\S+):", queued.inner_text()).group(1)
    assert f"waits for train {first}" in queued.inner_text()
    wait_job(page, "train", first, ": running")  # not an earlier test's run, still on show until the next poll
    wait_text(status_box(page), "step ", TIMEOUT)
    assert status_box(page).input_value().startswith(f"train {first}: running")
    return first, second


def control_the_visible_run(page, ticks: list, first: str, second: str) -> None:
    page.get_by_role("button", name="Sample now").click()
    page.get_by_text(f"Sample asked for {first}").wait_for(timeout=30_000)
    after_a_tick(page, ticks)  # the status poll ran: the message stays
    assert page.get_by_text(f"Sample asked for {first}").is_visible()
    label = page.get_by_text(re.compile(r"Step \d+, adapter strength")).first
    label.wait_for(timeout=TIMEOUT * 1000)  # listen: the players say their step and strength
    shot(page, "05-train-two-runs")
    preview_history_and_progress_bar(page)
    picker = page.get_by_label("Run shown (Stop, Save now, Sample now act on it)")
    picker.click()
    page.get_by_role("option", name=re.compile(second)).click()
    wait_text(status_box(page), f"train {second}: queued: waits for train {first}", 30)
    page.get_by_role("button", name="Stop (saves a checkpoint)").click()
    page.get_by_text(f"Cancelled {second}").wait_for(timeout=30_000)
    picker.click()
    page.get_by_role("option", name=re.compile(first)).click()
    wait_text(status_box(page), f"train {first}: running", 30)
    page.get_by_role("button", name="Stop (saves a checkpoint)").click()
    page.get_by_text(f"Stop asked for {first}").wait_for(timeout=30_000)
    wait_text(status_box(page), f"train {first}: stopped", TIMEOUT)
    shot(page, "06-train-stopped")


def preview_history_and_progress_bar(page) -> None:
    """Every preview stays, labelled with its step and strength; the run's progress is a bar with its ETA."""
    steps = ("() => new Set([...document.querySelectorAll('#preview-history audio')]"
             ".map((a) => a.title.split(',')[0])).size")
    page.wait_for_function(f"() => ({steps})() >= 2", timeout=TIMEOUT * 1000)
    titles = page.locator("#preview-history audio").evaluate_all("all => all.map((a) => a.title)")
    assert all(re.fullmatch(r"step \d+, strength [\d.]+", title) for title in titles), titles
    bar = page.locator(".job-progress[role='progressbar']").filter(visible=True).first
    assert re.search(r"\d+/\d+ steps · \d+%", bar.get_attribute("aria-label"))
    page.locator("#preview-history").scroll_into_view_if_needed()
    shot(page, "05b-preview-history-and-progress-bar")


def reload_keeps_the_project(page, studio) -> None:
    tab(page, "2 · Dataset")  # a caption typed and not saved: the reload asks first, then comes back here
    page.get_by_role("button", name="Open", exact=True).click()
    settle(page)
    page.get_by_label("Caption", exact=True).first.press_sequentially(" and more")  # typed: keys, not a paste
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.type), dialog.accept()))
    page.reload()
    assert asked == ["beforeunload"]
    expect(page.get_by_role("tab", name="2 · Dataset")).to_have_attribute("aria-selected", "true", timeout=60_000)
    page.get_by_role("tab", name="6 · Export & merge").click()
    trigger = page.get_by_label("Trigger word (metadata)")
    trigger.fill("zzq")  # typed right after opening: kept
    tab(page, "5 · Train")
    assert wait_text(page.get_by_label("Epochs", exact=True), "400", 60) == "400"  # once the page's load ran
    assert page.get_by_label("Project folder (new or existing)").input_value().endswith("my-band")
    assert trigger.input_value() == "zzq"


def export(page) -> None:
    tab(page, "6 · Export & merge")
    page.get_by_role("button", name="Find checkpoints").click()
    settle(page)
    page.get_by_label("comfyui").check()
    page.get_by_label("diffusers").check()
    page.get_by_role("button", name="Export", exact=True).click()
    result = wait_text(page.get_by_label("Export result: the files and how to load them"), "diffusers:", 120)
    assert result.count("read back and verified") == 3
    assert "ComfyUI" in result and "ACE-Step UI" in result and "load_lora_weights" in result
    shot(page, "07-export")


def test_a_musicians_path(studio):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser, page = open_browser(playwright)
        ticks = timer_ticks(page, studio)
        new_project_and_scan(page, studio)
        label(page, studio, ticks)
        preprocess(page, studio, ticks)
        first, second = two_runs(page, studio)
        control_the_visible_run(page, ticks, first, second)
        reload_keeps_the_project(page, studio)
        export(page)
        newcomer.compare_follows_the_project(page, studio.base / "datasets" / "my-band",
                                             studio.base / "studio-state" / "jobs")
        assert errors_on_screen(page) == []
        browser.close()
    assert "Traceback" not in studio.console()






def click_project_and_dataset(page, studio, project) -> None:
    tab(page, "1 · Project")
    fill(page, "Project folder (new or existing)", str(project))
    click(page, "Open or create")
    songs = project / "songs"
    for index in range(2):
        soundfile.write(songs / f"take{index}.wav", tone(10.4 + index), 48000)  # >= 10 s: trainable
    soundfile.write(songs / "blip.wav", tone(1.0), 48000)  # too short to train on
    (songs / "fake.mp3").write_bytes(b"ID3 this is not an mp3")
    (songs / "take.csv").write_text("filename,caption\ntake0.wav,a slow take\n")
    tab(page, "2 · Dataset")
    click(page, "Scan")
    page.get_by_text("4 files: 2 usable, 2 unusable, 0 captioned").wait_for(timeout=60_000)
    newcomer.unusable_songs_are_said(page)
    newcomer.the_table_follows_each_edit(page, songs)  # Open and Save sidecar on a song that trains
    page.get_by_text("Activation tag, dataset.json and CSV").click()
    click(page, "Save dataset.json + CSV")
    fill(page, "dataset.json path (default: dataset.json in the song folder)", str(songs / "dataset.json"))
    click(page, "Load a dataset.json (its tag, position, folder)")
    newcomer.split_says_where(page, project)


def click_jobs_to_a_run(page, project) -> None:
    tab(page, "3 · Auto-label")
    click(page, "Label")
    tab(page, "4 · Preprocess")
    click(page, "Preprocess")
    preprocessed = started_job(page, "preprocess")
    wait_job(page, "preprocess", preprocessed)  # the tensors Start needs are written
    tab(page, "5 · Train")
    for name, value in (("Epochs", "300"), ("Crop frames, 25 per second", "30"),
                        ("Preview every N steps (0: off)", "0")):
        fill(page, name, value)
    page.get_by_text("Advanced: every setting, resume, layer sensitivity").click()
    click(page, "Show every setting this run would use")
    newcomer.learning_rate_zero_is_refused(page)
    click(page, "Start")
    running = started_job(page, "train")
    wait_job(page, "train", running, ": running")  # not an earlier test's run, still on show until the next poll
    wait_text(status_box(page), "step ", TIMEOUT)
    click(page, "Save now")
    click(page, "Sample now")
    click_the_jobs_panel(page, running, preprocessed)
    tab(page, "5 · Train")
    click(page, "Stop (saves a checkpoint)")
    wait_text(status_box(page), ": stopped", TIMEOUT)
    click(page, "Find checkpoints")
    click(page, "Estimate layer sensitivity (gradient Fisher)")
    newcomer.the_estimate_reports_in_its_tab(page)






def click_the_jobs_panel(page, running: str, preprocessed: str) -> None:
    """A preprocess queued behind the running training run: pick each row, read it, cancel the queued one;
    the finished preprocess's exit code in words."""
    tab(page, "4 · Preprocess")
    click(page, "Preprocess")
    queued_note = page.get_by_text("Queued preprocess job")
    queued_note.wait_for(timeout=60_000)
    queued = re.search(r"Queued preprocess job (\S+):", queued_note.inner_text()).group(1)
    page.get_by_text("Jobs (they keep running when you close this page)").click()
    job_row(page, queued).wait_for(timeout=30_000)
    newcomer.jobs_table_says_exit_codes(page, preprocessed)
    assert pick_job(page, queued).startswith(f"preprocess {queued}: queued")
    click(page, "Stop")
    page.get_by_text(f"Cancelled {queued}: it had not started.").wait_for(timeout=30_000)
    job_row(page, queued).get_by_role("gridcell", name="stopped", exact=True).wait_for(timeout=30_000)
    details = pick_job(page, running)
    assert details.startswith(f"train {running}: running") and "--- log ---" in details and "step " in details
    close_toasts(page)
    shot(page, "08-jobs-panel")






def polls_only_what_is_shown(page, studio) -> None:
    """On the Project tab (nothing to poll) with the Jobs panel closed no timer ticks; on Train its own does."""
    ticks = timer_ticks(page, studio)
    page.wait_for_timeout(5000)  # (not time.sleep: playwright hands over requests only while it runs)
    assert ticks == [], f"timers ticked on the Project tab: {ticks}"  # they tick every 2-3 s when on
    tab(page, "5 · Train")
    deadline = time.monotonic() + 60
    while not ticks and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    assert len(set(ticks)) == 1, f"the Train tab's timer alone should tick: {ticks}"


def test_click_everything(studio):
    """Every button of every tab, with valid inputs: no error badge, no traceback on the console.

    Service's Download runs last: the studio's hub is a port nothing answers on (tests stay offline).
    """
    from playwright.sync_api import sync_playwright

    from acestep_train.jobs import JobStore

    store = JobStore(studio.base / "studio-state" / "jobs")
    for job in store.jobs():  # a run left by a failed walkthrough would hold the queue
        if job.active:
            store.end_now(job.id)  # no checkpoint needed
    project = studio.base / "datasets" / "clicks"
    with sync_playwright() as playwright:
        browser, page = open_browser(playwright)
        page.goto(studio.url)
        page.get_by_role("tab", name="1 · Project").wait_for()
        polls_only_what_is_shown(page, studio)
        tab(page, "Service")  # first: it rewrites the demo model, which the jobs below read
        click(page, "Scan for models")
        newcomer.demo_model_and_offline_download(page, first=True)
        page.get_by_text("Session profile: every tab's settings in one file").click()
        click(page, "Save settings")
        click(page, "Load settings")
        click_project_and_dataset(page, studio, project)
        click_jobs_to_a_run(page, project)
        tab(page, "6 · Export & merge")
        click(page, "Find checkpoints")
        click(page, "Export")
        newcomer.merge_strength(page, project / "exports" / "merged")
        shot(page, "09-click-everything")
        newcomer.demo_model_and_offline_download(page, first=False)
        browser.close()
    assert "Traceback" not in studio.console()
