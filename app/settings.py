"""Launch settings shared by the trainer and the captioner apps, validated once."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from acestep_train.studio_state import prepare_state_dir

LOOPBACK_NAMES = {"localhost"}
WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]", ""}
TRAINER_PORT = 7861
CAPTIONER_PORT = 7862


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_proxies(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``--trusted-proxy`` values: IP addresses or networks (``10.0.0.0/8``); anything else is refused."""
    proxies = []
    for value in values:
        text = value.strip()
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"--trusted-proxy {value!r}: not an IP address or network (e.g. 127.0.0.1, "
                             "10.0.0.0/8); host names and '*' are not accepted") from None
        proxies.append(str(network.network_address) if network.num_addresses == 1 else str(network))
    return tuple(proxies)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``USER:PASS`` -> (user, pass); the password may itself contain colons."""
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth must be USER:PASS with both parts non-empty")
    return user, password


@dataclass(frozen=True)
class AppSettings:
    host: str = "127.0.0.1"
    port: int = TRAINER_PORT
    share: bool = False
    auth: tuple[str, str] | None = None
    roots: tuple[Path, ...] = field(default=())
    demo: bool = False
    generated_password: bool = False  # True when we made up the password (print it once)
    #: peers whose X-Forwarded-For names the client (a reverse proxy the user runs); nobody's by default
    trusted_proxies: tuple[str, ...] = ()
    state_dir: Path | None = None  # the studio's own state (job records, their secret), outside every root

    @property
    def exposed(self) -> bool:
        """Reachable from other machines: a share link or a non-loopback bind address."""
        return self.share or not is_loopback(self.host)

    @property
    def url(self) -> str:
        """Where to open it: a wildcard bind address (0.0.0.0, ::) is opened as 127.0.0.1 on this machine."""
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"


def make_settings(
    host: str, port: int, share: bool, auth: str | None, roots: list[str], demo: bool,
    trusted_proxies: list[str] | tuple[str, ...] = (), state_dir: str | None = None,
) -> AppSettings:
    """Validate launch options; an exposed app without ``--auth`` gets a generated password. ``state_dir``:
    the studio's state folder (None: the default, ``studio_state``); refused inside a root."""
    if not 0 < port < 65536:
        raise ValueError(f"--port must be 1-65535, not {port}")
    proxies = parse_proxies(trusted_proxies)
    resolved = []
    for root in roots:
        path = Path(root).expanduser().resolve()
        if path == Path(path.anchor):
            raise ValueError(f"--root {root}: a filesystem root cannot be served; name a folder")
        path.mkdir(parents=True, exist_ok=True)
        resolved.append(path)
    credentials = parse_auth(auth)
    generated = False
    if credentials is None and (share or not is_loopback(host)):
        credentials, generated = ("studio", secrets.token_urlsafe(12)), True
    state = prepare_state_dir(state_dir, resolved)
    return AppSettings(host, port, share, credentials, tuple(resolved), demo, generated, proxies, state)
