"""The page a visitor gets before logging in carries no description of the app's API.

Gradio 6 answers ``GET /`` without login with its login page, but embeds the whole API
description in it (``window.gradio_api_info``: every endpoint, with default values that hold
server paths), while ``/gradio_api/info`` itself needs the login. For a page whose own config
says a login is required, the description is replaced by ``null``; after logging in the page
reloads and the browser fetches the description through the login-checked route. Pages for a
logged-in user (or an app without a login) are passed through unchanged.
"""

from __future__ import annotations

PAGE_CONFIG = b"window.gradio_config = "  # in the first part of every page Gradio renders
LOGIN_PAGE = PAGE_CONFIG + b'{"auth_required":true'  # Gradio's config for "log in first"
API_INFO = b"<script>window.gradio_api_info = "
SCRIPT_END = b";</script>"


def without_api_info(body: bytes) -> bytes:
    """The login page with ``window.gradio_api_info = null``; any other page as it is."""
    if LOGIN_PAGE not in body:
        return body
    start = body.find(API_INFO)
    if start < 0:
        return body
    start += len(API_INFO)
    end = body.find(SCRIPT_END, start)
    rest = body[end:] if end >= 0 else SCRIPT_END  # an unterminated script: cut it off rather than leak it
    return body[:start] + b"null" + rest


def _is_html(message: dict) -> bool:
    return any(name.lower() == b"content-type" and value.startswith(b"text/html")
               for name, value in message.get("headers", []))


async def strip_login_page(app, scope, receive, send):
    """Run ``app``; a Gradio page (HTML whose first part holds its config) is held until complete and sent
    without the login page's API description. Anything else, a served .html file included, streams as is."""
    held: dict = {}

    async def hold(message):
        if message["type"] == "http.response.start" and _is_html(message):
            held.update(start=message, parts=[])
            return None
        if message["type"] != "http.response.body" or "start" not in held:
            return await send(message)
        if not held["parts"] and PAGE_CONFIG not in message.get("body", b""):  # not a page: stream it
            await send(held.pop("start"))
            return await send(message)
        held["parts"].append(message.get("body", b""))
        if message.get("more_body"):
            return None
        body = without_api_info(b"".join(held["parts"]))
        start = held.pop("start")
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        return await send({"type": "http.response.body", "body": body})

    return await app(scope, receive, hold)
