"""A local stand-in for the Hugging Face Hub: just the routes ``snapshot_download`` uses.

Serves folders as repos: ``repos = {"ACE-Step/Ace-Step1.5": Path(...)}``. Loopback only.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class HubStandIn:
    def __init__(self, repos: dict[str, Path]):
        self.repos = repos
        self.requests: list[str] = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "HubStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _files(self, repo: str) -> list[str]:
        root = self.repos[repo]
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False):
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _route(self, head: bool):
                path = unquote(urlparse(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                if path.startswith("/api/models/") and "/tree/" in path:
                    repo = path[len("/api/models/"):].split("/tree/")[0]
                    if repo not in hub.repos:
                        return self._send(404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
                    root = hub.repos[repo]
                    entries = [
                        {"type": "file", "path": f, "size": (root / f).stat().st_size,
                         "oid": hashlib.sha1((root / f).read_bytes()).hexdigest()}
                        for f in hub._files(repo)
                    ]
                    return self._send(200, json.dumps(entries).encode(), {"Content-Type": "application/json"}, head)
                if path.startswith("/api/models/"):
                    repo = path[len("/api/models/"):].split("/revision/")[0]
                    if repo not in hub.repos:
                        return self._send(404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
                    info = {"id": repo, "sha": COMMIT, "siblings": [{"rfilename": f} for f in hub._files(repo)]}
                    return self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, head)
                for repo, root in hub.repos.items():
                    prefix = f"/{repo}/resolve/"
                    if path.startswith(prefix):
                        filename = path[len(prefix):].split("/", 1)[1]
                        file = root / filename
                        if not file.is_file():
                            return self._send(404, b"", {"X-Error-Code": "EntryNotFound"}, head)
                        data = file.read_bytes()
                        headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
                        return self._send(200, data, headers, head)
                return self._send(404, b"", {}, head)

            def do_GET(self):
                self._route(head=False)

            def do_HEAD(self):
                self._route(head=True)

        return Handler
