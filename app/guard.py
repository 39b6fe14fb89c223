"""A gate in front of both apps: Host/Origin checks on loopback and a login rate limit.

On loopback with no login, any web page the user visits could reach the studio through DNS
rebinding (a name of the attacker's that resolves to 127.0.0.1). The browser then sends that
name as ``Host`` (and its page as ``Origin``); we answer 403 to any name but the loopback ones
and those added with ``--allow-host``. An exposed app (share link, another bind address) has a
login instead, and its Host is whatever name reaches it. Login attempts: after
``LOGIN_FAILURES`` wrong passwords from one client within a minute, further attempts get 429.

"One client" is the socket peer. Uvicorn (under Gradio) would take the client from
``X-Forwarded-For`` whenever the peer is 127.0.0.1, so behind an SSH tunnel or a local proxy any
request could name a fresh client and guess passwords without end; ``trust_forwarded_from``
limits that to the proxies the user names with ``--trusted-proxy`` (none by default). The
``Forwarded`` header (RFC 7239) is never read. Pages served before login carry no API
description (``app.login_page``).
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict, deque
from urllib.parse import urlsplit

from app.login_page import strip_login_page

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
LOGIN_FAILURES = 10
LOGIN_WINDOW_S = 60.0
LOGIN_PATHS = ("/login", "/login/")
FORWARDED_ENV = "FORWARDED_ALLOW_IPS"  # uvicorn's list of peers whose X-Forwarded-For it believes


def trust_forwarded_from(proxies: tuple[str, ...]) -> None:
    """Believe ``X-Forwarded-For`` only from ``proxies`` (validated addresses or networks); none: nobody.

    Uvicorn reads this variable when Gradio builds its server config at launch, and trusts
    127.0.0.1 when it is unset; an empty value matches no peer. It replaces any value inherited
    from the environment, so the rate limit's key is the socket peer unless the user said otherwise.
    """
    os.environ[FORWARDED_ENV] = ",".join(proxies)


def hostname(value: str) -> str:
    """``Host`` header or Origin URL -> lower-case host name without port."""
    value = value.strip().lower()
    if "://" in value:
        return (urlsplit(value).hostname or "").lower()
    if value.startswith("["):
        return value.split("]")[0] + "]"
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class LoginLimiter:
    def __init__(self, limit: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW_S):
        self.limit, self.window = limit, window
        self.failures: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()

    def blocked(self, client: str) -> bool:
        with self.lock:
            recent = self.failures[client]
            while recent and recent[0] < time.monotonic() - self.window:
                recent.popleft()
            return len(recent) >= self.limit

    def failed(self, client: str) -> None:
        with self.lock:
            self.failures[client].append(time.monotonic())


class Guard:
    """ASGI middleware (pass as ``app_kwargs={"middleware": [Middleware(Guard, ...)]}``)."""

    def __init__(self, app, check_host: bool, allowed_hosts=(), limiter: LoginLimiter | None = None):
        self.app = app
        self.check_host = check_host
        self.allowed = LOOPBACK_HOSTS | {hostname(h) for h in allowed_hosts}
        self.limiter = limiter or LoginLimiter()

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.check_host and not self.host_allowed(headers):
            return await self.refuse(scope, send, 403, "forbidden: unknown Host or Origin (see --allow-host)")
        if scope["type"] == "http" and scope.get("path") in LOGIN_PATHS and scope.get("method") == "POST":
            return await self.login(scope, receive, send)
        if scope["type"] == "http" and scope.get("method") == "GET":
            return await strip_login_page(self.app, scope, receive, send)
        return await self.app(scope, receive, send)

    def host_allowed(self, headers: dict) -> bool:
        if hostname(headers.get("host", "")) not in self.allowed:
            return False
        origin = headers.get("origin")
        return origin is None or origin == "null" or hostname(origin) in self.allowed

    async def login(self, scope, receive, send):
        client = (scope.get("client") or ("?", 0))[0]
        if self.limiter.blocked(client):
            return await self.refuse(scope, send, 429, "too many failed logins; wait a minute")

        async def watch(message):
            if message["type"] == "http.response.start" and message["status"] in (400, 401, 403):
                self.limiter.failed(client)
            await send(message)

        return await self.app(scope, receive, watch)

    @staticmethod
    async def refuse(scope, send, status: int, text: str):
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        body = text.encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def middleware(check_host: bool, allowed_hosts=()) -> list:
    from starlette.middleware import Middleware

    return [Middleware(Guard, check_host=check_host, allowed_hosts=tuple(allowed_hosts))]
