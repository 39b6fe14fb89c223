"""Start ACE-Step Studio: the trainer (7861), the captioner (7862), or both side by side.

    python launch.py                     trainer on http://127.0.0.1:7861
    python launch.py --mode caption      captioner on http://127.0.0.1:7862
    python launch.py --mode both         both, as two processes stopped together
    python launch.py --share             a share link; without --auth a password is generated

No model is loaded by the UI: each job loads what it needs in its own process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# No phoning home: Gradio's usage analytics and the hub's telemetry stay off.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from app.settings import CAPTIONER_PORT, TRAINER_PORT, AppSettings, make_settings  # noqa: E402

REPO = Path(__file__).resolve().parent
AUTH_ENV = "ACESTEP_STUDIO_AUTH"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["train", "caption", "both"], default="train")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    parser.add_argument("--port", type=int, help="port (default 7861 trainer, 7862 captioner)")
    parser.add_argument("--share", action="store_true", help="serve through a Gradio share link")
    parser.add_argument("--auth", metavar="USER:PASS", default=os.environ.get(AUTH_ENV),
                        help=f"login for the UI, API and files (or set {AUTH_ENV})")
    parser.add_argument("--root", action="append", default=[], metavar="DIR",
                        help="a folder the UI may read and write (repeatable)")
    parser.add_argument("--checkpoint-dir", default=str(REPO / "checkpoints"), metavar="DIR",
                        help="where models live (always served as a root)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="the studio's own state: job records and their signing secret (default "
                             "$ACESTEP_STUDIO_STATE, else $XDG_STATE_HOME/acestep-studio, ~/.local/state/acestep-studio); "
                             "never inside a --root")
    parser.add_argument("--demo", action="store_true", help="write and use the tiny demo model")
    parser.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDR",
                        help="a reverse proxy (IP or network) whose X-Forwarded-For names the client; "
                             "repeatable; without it forwarded headers are ignored, from loopback too")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="a host name (besides localhost) under which the loopback UI may be opened")
    parser.add_argument("--peer-port", type=int, help=argparse.SUPPRESS)  # set by --mode both: the other app's port
    parser.add_argument("--links-dir", help=argparse.SUPPRESS)  # set by --mode both: where share links are left
    return parser.parse_args(argv)


def settings_for(args: argparse.Namespace, port: int) -> AppSettings:
    roots = [args.checkpoint_dir, *args.root] if args.root else [
        args.checkpoint_dir, str(REPO / "datasets"), str(REPO / "runs")]
    return make_settings(args.host, port, args.share, args.auth, roots, args.demo, args.trusted_proxy,
                         state_dir=args.state_dir)


def announce(name: str, settings: AppSettings, share_url: str | None) -> None:
    print(f"ACE-Step Studio {name}: {settings.url}", flush=True)
    if share_url:
        print(f"Share link: {share_url}", flush=True)
    if settings.generated_password:
        user, password = settings.auth
        print(f"Login: {user} / {password}  (generated; choose one with --auth USER:PASS)", flush=True)


def gradio_cache(name: str, port: int) -> Path:
    """A Gradio cache of this instance's own, inside the studio's folder (not /tmp/gradio shared by all)."""
    folder = REPO / ".studio" / f"gradio-{name}-{port}"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(folder)  # read by gradio when it is first imported
    return folder


def serve(args: argparse.Namespace) -> None:
    port = args.port or (CAPTIONER_PORT if args.mode == "caption" else TRAINER_PORT)
    settings = settings_for(args, port)
    gradio_cache("captioner" if args.mode == "caption" else "trainer", port)
    from acestep_train.paths import export_roots
    from app.context import AppContext
    from app.guard import middleware, trust_forwarded_from

    checkpoint_root = Path(args.checkpoint_dir).expanduser().resolve()
    work_root = Path(settings.roots[-1]) if args.root else REPO / "runs"
    ctx = AppContext(settings, checkpoint_root, work_root)
    export_roots(settings.roots)  # jobs inherit the roots from this process, never from their records
    say_where_jobs_live(ctx, work_root)
    from acestep_train.jobs import start_runner

    start_runner(ctx.jobs)  # the queue moves on with no browser open
    name = "captioner" if args.mode == "caption" else "trainer"
    peer = None
    if args.peer_port:
        from app.peer import Peer

        peer = Peer("trainer" if name == "captioner" else "captioner", args.peer_port, Path(args.links_dir))
    if args.mode == "caption":
        from captioner.app import build_captioner_app

        demo = build_captioner_app(ctx, peer)
    else:
        from app.trainer import build_trainer_app

        if args.demo:
            ensure_demo_model(checkpoint_root)
        demo = build_trainer_app(ctx, peer)
    trust_forwarded_from(settings.trusted_proxies)  # before launch: read when Gradio configures uvicorn
    _, _, share_url = demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        auth=settings.auth,
        allowed_paths=[str(root) for root in settings.roots],
        prevent_thread_lock=True,
        quiet=True,
        show_error=True,  # an unexpected error reaches the user as its message, not a bare "Error"
        app_kwargs={"middleware": middleware(not settings.exposed, args.allow_host)},
    )
    signal.signal(signal.SIGTERM, interrupt)
    announce(name, settings, share_url)
    if peer is not None:
        from app.peer import publish

        publish(peer.links_dir, name, share_url)
    demo.block_thread()


def say_where_jobs_live(ctx, work_root: Path) -> None:
    """Jobs live in the state folder; records left in ``<work root>/jobs`` by earlier versions are not moved."""
    print(f"Jobs live in {ctx.jobs.root} (the studio's own state folder)", flush=True)
    old = work_root / "jobs"
    if any(old.glob("*/job.json")):
        print(f"Jobs recorded in {old} by an earlier version are no longer read or moved; their logs stay "
              "there (unsigned records are never run)", flush=True)


def ensure_demo_model(checkpoint_root: Path) -> None:
    if not (checkpoint_root / "tiny-turbo" / "model.safetensors").is_file():
        from acestep_train.models.tiny import write_demo_model

        write_demo_model(checkpoint_root, "original", ("turbo", "base"))
        print(f"wrote the tiny demo model to {checkpoint_root}", flush=True)


def run_both(args: argparse.Namespace) -> int:
    """Trainer and captioner as two processes; when one ends, the other is stopped."""
    trainer_port = args.port or TRAINER_PORT
    settings = settings_for(args, trainer_port)
    common = ["--host", args.host, "--checkpoint-dir", args.checkpoint_dir]
    common += [item for root in args.root for item in ("--root", root)]
    common += ["--share"] if args.share else []
    common += ["--demo"] if args.demo else []
    common += ["--state-dir", str(settings.state_dir)]  # both apps share one state folder and one secret
    common += [item for name in args.allow_host for item in ("--allow-host", name)]
    common += [item for proxy in settings.trusted_proxies for item in ("--trusted-proxy", proxy)]
    env = dict(os.environ)
    if settings.auth:  # one login for both apps, generated once here if needed; not on a command line (ps)
        env[AUTH_ENV] = ":".join(settings.auth)
        if settings.generated_password:
            print(f"Login for both apps: {settings.auth[0]} / {settings.auth[1]}", flush=True)
    ports = {"train": trainer_port, "caption": trainer_port + 1}
    links = tempfile.mkdtemp(prefix="acestep-studio-links-")
    children = [
        subprocess.Popen([sys.executable, __file__, "--mode", mode, "--port", str(port), *common, "--links-dir", links,
                          "--peer-port", str(ports["caption" if mode == "train" else "train"])], env=env)
        for mode, port in ports.items()
    ]
    signal.signal(signal.SIGTERM, interrupt)
    codes = [1]
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:  # also on SIGTERM: the apps end with this process
        codes = [stop(child) for child in children]
        shutil.rmtree(links, ignore_errors=True)
    return max(codes)


def stop(child: subprocess.Popen) -> int:
    """Ask an app to end (SIGTERM), kill it if it has not after 20 s; its exit status (0 when asked to end)."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
    return max(child.wait(), 0)


def interrupt(*_) -> None:
    """SIGTERM ends the process at once (exit status 0, exit handlers run); jobs run on in their own sessions."""
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.mode == "both":
            return run_both(args)
        serve(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
