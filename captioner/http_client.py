"""HTTP for the cloud backends: retries on rate limits and busy servers, errors that never hold a key.

A 429 or 5xx answer, or a connection that fails, is retried after the server's ``Retry-After``
(seconds or an HTTP date) or an exponential backoff, both capped at ``max_wait``. A rejected key
(401/403) and any other 4xx fail at once. Every message passes through ``scrub``, so a server
that echoes the key back in its error text does not put it in a log, an event or a sidecar.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

RETRY_STATUS = (429, 500, 502, 503, 504)


class CloudError(RuntimeError):
    """A cloud service refused or failed; the message never contains the key."""


def scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def retry_after(response: httpx.Response, attempt: int) -> float:
    """The server's ``Retry-After`` (seconds or an HTTP date), else 1, 2, 4, ... seconds."""
    header = response.headers.get("Retry-After", "").strip()
    backoff = float(2 ** (attempt - 1))
    if re.fullmatch(r"\d+(?:\.\d+)?", header):
        return float(header)
    if not header:
        return backoff
    try:
        return max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
    except (TypeError, ValueError):  # an unreadable date: back off instead
        return backoff


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all
    max_wait: float = 30.0  # seconds, the cap on one wait
    timeout: float = 300.0  # seconds per request (a long song uploads and is transcribed in one)

    def __post_init__(self):
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.max_wait < 0 or self.timeout <= 0:
            raise ValueError(f"max_wait must be >= 0 and timeout > 0, got {self.max_wait} and {self.timeout}")


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    error = data.get("error", data.get("detail", data)) if isinstance(data, dict) else data
    if isinstance(error, dict):
        error = error.get("message", error.get("status", error))
    return str(error)[:300]


class ApiClient:
    """One service's endpoint, key and retry policy (the key goes only into headers)."""

    def __init__(self, service: str, base_url: str, secret: str, policy: RetryPolicy = RetryPolicy()):
        self.service, self.base_url, self.secret, self.policy = service, base_url.rstrip("/"), secret, policy
        self.client = httpx.Client(timeout=policy.timeout)

    def __repr__(self) -> str:  # never show the key
        return f"ApiClient({self.service!r}, {self.base_url!r})"

    def fail(self, message: str) -> CloudError:
        return CloudError(scrub(f"{self.service}: {message}", self.secret))

    def post(self, path: str, **kwargs) -> dict:
        """POST and return the JSON answer, retrying what is worth retrying."""
        for attempt in range(1, self.policy.attempts + 1):
            last = attempt == self.policy.attempts
            try:
                response = self.client.post(self.base_url + path, **kwargs)
            except httpx.TransportError as error:
                if last:
                    raise self.fail(f"cannot reach {self.base_url} ({type(error).__name__})") from None
                time.sleep(min(2.0 ** (attempt - 1), self.policy.max_wait))
                continue
            if response.status_code in RETRY_STATUS and not last:
                time.sleep(min(retry_after(response, attempt), self.policy.max_wait))
                continue
            return self._answer(response)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _answer(self, response: httpx.Response) -> dict:
        status = response.status_code
        if status in (401, 403):
            raise self.fail(f"the API key was rejected (HTTP {status}): {_error_text(response)}")
        if status == 429:
            raise self.fail(f"still rate-limited after {self.policy.attempts} attempts (HTTP 429)")
        if status >= 400:
            raise self.fail(f"HTTP {status}: {_error_text(response)}")
        try:
            data = response.json()
        except ValueError:
            raise self.fail(f"the answer is not JSON (HTTP {status})") from None
        if not isinstance(data, dict):
            raise self.fail("the answer is not a JSON object")
        return data

    def close(self) -> None:
        self.client.close()
