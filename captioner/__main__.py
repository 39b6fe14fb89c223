"""``python -m captioner --audio-dir DIR [--backend librosa,gemini,...] [--only-missing]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BACKENDS = ("librosa", "acestep-captioner", "acestep-transcriber", "whisper", "gemini", "openai-whisper",
            "elevenlabs-scribe")


def make_backend(name: str, args):
    from captioner.cloud import ElevenLabsScribe, Gemini, OpenAIWhisper
    from captioner.librosa_backend import LibrosaAnalysis
    from captioner.whisper_backend import LocalWhisper

    if name == "librosa":
        return LibrosaAnalysis()
    if name in ("acestep-captioner", "acestep-transcriber"):
        from captioner.omni_backend import AceStepOmni

        role = name.split("-")[1]
        folder = getattr(args, f"{role}_dir")
        if not folder:
            raise ValueError(f"the {name} backend needs --{role}-dir (a local copy of ACE-Step/acestep-{role})")
        return AceStepOmni(folder, role, args.device, args.quantize)
    if name == "whisper":
        if not args.whisper_dir:
            raise ValueError("the whisper backend needs --whisper-dir (a local Whisper model folder)")
        return LocalWhisper(args.whisper_dir, args.device, args.quantize, args.language)
    base_url = args.base_url
    cls = {"gemini": Gemini, "openai-whisper": OpenAIWhisper, "elevenlabs-scribe": ElevenLabsScribe}[name]
    return cls(base_url=base_url)


def run_passes(folder, backends, options, events, two_pass: bool):
    """One pass with every backend, or (two-pass) captioners first, unloaded, then transcribers."""
    from captioner.batch import BatchSummary, caption_folder

    if not two_pass:
        return caption_folder(folder, backends, options, events)
    total = BatchSummary()
    for group in ([b for b in backends if "lyrics" not in b.essential], [b for b in backends if "lyrics" in b.essential]):
        if not group:
            continue
        summary = caption_folder(folder, group, options, events)
        for backend in group:
            backend.unload()
        total.done += [d for d in summary.done if d not in total.done]
        total.skipped += summary.skipped
        total.failed += summary.failed
    return total


def main(argv: list[str] | None = None) -> int:
    from acestep_train.events import EventLog
    from captioner.batch import BatchOptions
    from captioner.cloud import CloudError

    parser = argparse.ArgumentParser(prog="python -m captioner", description=__doc__.splitlines()[0])
    parser.add_argument("--audio-dir", required=True, metavar="DIR")
    parser.add_argument("--backend", default="librosa", help=f"comma-separated, from {', '.join(BACKENDS)}")
    parser.add_argument("--only-missing", action="store_true", help="skip songs that already have the fields")
    parser.add_argument("--overwrite", action="store_true", help="replace fields you edited yourself")
    parser.add_argument("--tag", default="", help="activation tag for every song")
    parser.add_argument("--csv", metavar="F", help="also write all captions to this CSV")
    parser.add_argument("--base-url", help="a different endpoint for the cloud backend (a proxy or a test server)")
    parser.add_argument("--events", metavar="F", help="write progress events (for the UI's job runner)")
    parser.add_argument("--whisper-dir", metavar="DIR", help="a local Whisper model (transformers format)")
    parser.add_argument("--captioner-dir", metavar="DIR", help="a local ACE-Step/acestep-captioner")
    parser.add_argument("--transcriber-dir", metavar="DIR", help="a local ACE-Step/acestep-transcriber")
    parser.add_argument("--quantize", choices=["8bit", "4bit"], help="load local models with bitsandbytes")
    parser.add_argument("--language", help="lyrics language (default: detected)")
    parser.add_argument("--device")
    parser.add_argument("--download", action="store_true",
                        help="first fetch the ACE-Step captioner/transcriber into --captioner-dir/--transcriber-dir")
    parser.add_argument("--two-pass", action="store_true",
                        help="caption every song first, free those models, then transcribe every song")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.backend.split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        print(f"error: unknown backend {unknown[0]!r}; choose from {', '.join(BACKENDS)}", file=sys.stderr)
        return 2
    try:
        if args.download:
            from captioner.download import download_model

            for role in ("captioner", "transcriber"):
                if f"acestep-{role}" in names and getattr(args, f"{role}_dir"):
                    download_model(role, getattr(args, f"{role}_dir"))
        backends = [make_backend(name, args) for name in names]
        options = BatchOptions(args.only_missing, args.overwrite, args.tag, Path(args.csv) if args.csv else None)
        events = EventLog(args.events) if args.events else None
        summary = run_passes(args.audio_dir, backends, options, events, args.two_pass)
    except (CloudError, FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"captioned {len(summary.done)}, skipped {len(summary.skipped)}, failed {len(summary.failed)}")
    for path, reason in summary.failed:
        print(f"  failed: {path}: {reason}")
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
