"""The captioner app: a folder analyzed as a job, then one song reviewed and saved."""

from __future__ import annotations

import json
import time

import soundfile
from gradio_client import Client

from audio_fixtures import click_track
from test_launch import free_port, start


def test_analyze_then_review(tmp_path):
    songs = tmp_path / "data" / "songs"
    songs.mkdir(parents=True)
    soundfile.write(songs / "beat.wav", click_track(90, seconds=6, rate=48000), 48000)
    port = free_port()
    proc, _ = start(["--mode", "caption", "--port", str(port), "--checkpoint-dir", str(tmp_path / "ck"),
                     "--root", str(tmp_path / "data"), "--root", str(tmp_path / "runs")],
                    "ACE-Step Studio captioner: ")
    try:
        client = Client(f"http://127.0.0.1:{port}", verbose=False)
        assert "submitted" not in client.predict(str(songs), "Analyze only", [], True, False, "", "none", "", "", "",
                                                 api_name="/caption")
        deadline, status = time.monotonic() + 120, ""
        while ": finished" not in status and ": failed" not in status:
            assert time.monotonic() < deadline, status
            time.sleep(1)
            status = client.predict(api_name="/caption_status")
        assert ": finished" in status
        assert json.loads((songs / "beat.json").read_text())["bpm"] == 90
        client.predict(str(songs), "beat.wav", "slow drum machine", "", "90", "", "", "en", False, "",
                       api_name="/save_review")
        assert json.loads((songs / "beat.json").read_text())["caption"] == "slow drum machine"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
