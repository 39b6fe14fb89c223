"""The link between the trainer and the captioner in ``--mode both``.

The address is made when a page loads: the peer's share link when it has one (each app writes
its public URL into the folder both were given), else the host this page was opened with and
the peer's port, so the link works from another machine too, not only on 127.0.0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr


@dataclass(frozen=True)
class Peer:
    name: str  # "trainer" | "captioner"
    port: int
    links_dir: Path  # <links>/<name>.url holds an app's share link


def publish(links_dir: Path, name: str, share_url: str | None) -> None:
    if share_url:
        (links_dir / f"{name}.url").write_text(share_url, encoding="utf-8")


def peer_url(peer: Peer, host_header: str, scheme: str) -> str:
    shared = peer.links_dir / f"{peer.name}.url"
    if shared.is_file():
        return shared.read_text(encoding="utf-8").strip()
    hostname = host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 or "]:" in host_header else host_header
    if hostname in ("0.0.0.0", "[::]", "::", ""):  # a wildcard bind address is no place to browse to
        hostname = "127.0.0.1"
    return f"{scheme}://{hostname}:{peer.port}"


def header(title: str, peer: Peer | None) -> None:
    """The page title, and a link to the other app that is filled in when the page loads."""
    gr.Markdown(f"# {title}")
    if peer is None:
        return
    link = gr.Markdown()

    def fill(request: gr.Request) -> str:
        return f"[Open the {peer.name}]({peer_url(peer, request.headers.get('host', '127.0.0.1'), request.url.scheme)})"

    gr.on(triggers=None, fn=fill, outputs=link, api_name="peer_link")
