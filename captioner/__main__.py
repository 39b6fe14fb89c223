"""``python -m captioner --audio-dir DIR [--backend librosa,acestep-captioner,...] [--only-missing]``.

Captions, metadata and lyrics for a folder of songs, written as ``{stem}.json`` sidecars. The
web apps run this as a job (``--events``). API keys come from the environment
(GEMINI_API_KEY, OPENAI_API_KEY, ELEVENLABS_API_KEY) or a ``--keys-file`` that is deleted as it
is read; never from the command line, which job logs record.

Exit status: 0 the batch ran (failed songs are listed), 1 every song tried failed, 2 bad settings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BACKEND_NAMES = ("librosa", "acestep-captioner", "acestep-transcriber", "whisper", "gemini", "openai-whisper",
                 "elevenlabs-scribe")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m captioner", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Captions, metadata and lyrics for a folder of songs, written as {stem}.json sidecars.",
        epilog=__doc__.split("\n\n", 1)[1])
    add = parser.add_argument
    add("--audio-dir", metavar="DIR", help="the folder of songs (required unless --download-only)")
    add("--backend", default="librosa", help=f"comma-separated, first trusted most: {', '.join(BACKEND_NAMES)}")
    add("--only-missing", action="store_true", help="skip songs that already have the fields")
    add("--overwrite", action="store_true", help="also replace values you typed, wrote by hand or imported")
    add("--tag", default="", help="activation tag for every song")
    add("--csv", metavar="FILE", help="also write all captions to this CSV")
    add("--two-pass", action="store_true", help="caption every song, free those models, then transcribe")
    add("--timestamps", action="store_true", help="write timed lyrics as {stem}.lrc (Whisper and cloud)")
    add("--max-seconds", type=float, default=600.0, help="audio read per song (default 600)")
    add("--events", metavar="FILE", help="write progress events (for the UI's job runner)")
    add("--model-dir", metavar="DIR", help="a folder holding acestep-captioner/, acestep-transcriber/, whisper/")
    add("--captioner-dir", metavar="DIR", help="a local ACE-Step/acestep-captioner")
    add("--transcriber-dir", metavar="DIR", help="a local ACE-Step/acestep-transcriber")
    add("--whisper-dir", metavar="DIR", help="a local Whisper model (transformers format)")
    add("--download", action="store_true", help="first fetch the ACE-Step models you chose into their folders")
    add("--download-only", action="store_true", help="fetch the ACE-Step models you chose, then stop")
    add("--quantize", choices=["none", "8bit", "4bit"], help="load local models with bitsandbytes (small GPUs)")
    add("--device", help="cuda, cuda:1 or cpu (default: the GPU when there is one)")
    add("--language", help="the sung language for Whisper and cloud transcription (default: detected)")
    add("--base-url", help="another endpoint for the cloud backends (a proxy or a test server)")
    add("--gemini-model", default="gemini-2.5-flash")
    add("--gemini-lyrics", action="store_true", help="Gemini also writes lyrics with section tags")
    add("--model-metadata", action="store_true",
        help="BPM, key and time signature the captioner states win over librosa's measurement")
    add("--min-confidence", type=float, default=0.0, metavar="0-1",
        help="do not write a measured BPM / key / time signature less sure than this (the log says which)")
    add("--caption-prompt", default="", metavar="TEXT",
        help="task text for acestep-captioner (default: '*Task* Describe this audio in detail', its training)")
    add("--transcribe-prompt", default="", metavar="TEXT",
        help="task text for acestep-transcriber (default: '*Task* Transcribe this audio in detail')")
    add("--keys-file", metavar="FILE", help="JSON {GEMINI_API_KEY: ..., ...}; deleted once read")
    return parser


def config_from_args(args: argparse.Namespace):
    from captioner.config import CaptionConfig
    from captioner.omni_backend import OmniSettings

    return CaptionConfig(
        audio_dir=Path(args.audio_dir), backends=tuple(n.strip() for n in args.backend.split(",") if n.strip()),
        only_missing=args.only_missing, overwrite=args.overwrite, tag=args.tag, csv_out=args.csv,
        two_pass=args.two_pass, timestamps=args.timestamps, max_seconds=args.max_seconds, events=args.events,
        model_dir=args.model_dir, captioner_dir=args.captioner_dir, transcriber_dir=args.transcriber_dir,
        whisper_dir=args.whisper_dir, quantize=args.quantize, device=args.device, language=args.language,
        base_url=args.base_url, gemini_model=args.gemini_model, gemini_lyrics=args.gemini_lyrics,
        model_metadata=args.model_metadata, min_confidence=args.min_confidence,
        omni=OmniSettings(caption_prompt=args.caption_prompt, transcribe_prompt=args.transcribe_prompt))


def download_chosen(config) -> None:
    from captioner.download import download_model

    for backend in ("acestep-captioner", "acestep-transcriber"):
        if backend in config.backends:
            download_model(backend.split("-")[1], config.model_folder(backend))


def download_only(args: argparse.Namespace) -> int:
    """``--download-only``: the chosen ACE-Step models into their folders, nothing captioned."""
    from captioner.download import download_model

    chosen = [name.strip() for name in args.backend.split(",") if name.strip() in ("acestep-captioner",
                                                                                   "acestep-transcriber")]
    if not chosen:
        print("error: --download-only needs --backend acestep-captioner and/or acestep-transcriber", file=sys.stderr)
        return 2
    for backend in chosen:
        role = backend.split("-")[1]
        folder = getattr(args, f"{role}_dir") or (Path(args.model_dir) / backend if args.model_dir else None)
        if folder is None:
            print(f"error: {backend}: give --{role}-dir or --model-dir", file=sys.stderr)
            return 2
        try:
            print(f"downloading {backend} into {download_model(role, folder)} ... done", flush=True)
        except (RuntimeError, ValueError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    return 0


def report(summary) -> int:
    print(f"captioned {len(summary.done)}, skipped {len(summary.skipped)}, failed {len(summary.failed)}")
    for path, reason in summary.failed:
        print(f"  failed: {path}: {reason}")
    for name, note in summary.notes:
        print(f"  note: {name}: {note}")
    return 1 if summary.failed and not summary.done and not summary.skipped else 0


def main(argv: list[str] | None = None) -> int:
    from captioner.http_client import CloudError

    args = build_parser().parse_args(argv)
    if args.download_only:
        return download_only(args)
    if not args.audio_dir:
        print("error: --audio-dir is required (the folder of songs)", file=sys.stderr)
        return 2
    try:
        keys = {}
        if args.keys_file:
            from captioner.job import read_keys_file

            keys = read_keys_file(args.keys_file)
        config = config_from_args(args)
        if args.download:
            download_chosen(config)
        from captioner.job import run_job

        summary = run_job(config, keys)
    except (CloudError, OSError, ValueError, RuntimeError) as error:  # settings, a key, a download, a model load
        print(f"error: {error}", file=sys.stderr)
        return 2
    return report(summary)


if __name__ == "__main__":
    sys.exit(main())
