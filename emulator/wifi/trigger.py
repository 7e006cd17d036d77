"""The caller's side of the reactive trigger: ask a running home's update server to make one of
its Wi-Fi devices check now (`hanemu home trigger URL DEVICE`).

`post_trigger` POSTs `URL/devices/<device>/check` (the device name percent-encoded as one path
segment) and returns the server's sentence; every way it can go wrong (a URL that is no http://
URL, nothing listening, a device the server does not know, a device that is off, a server that
is not hanemu's) is one `WifiError` line. It reads at most `MAX_REPLY_BYTES` of the reply and
never follows a redirect or an environment proxy. This module owns that one request; it never
starts a server and never decides what a device does.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from emulator.errors import WifiError
from emulator.wifi.server import path_segment

MAX_REPLY_BYTES = 4096
TIMEOUT_S = 10.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def check_url(url: str, device: str) -> str:
    """The trigger URL of `device` on the update server at `url`, or `WifiError`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WifiError(f"{url!r} is not a URL: {exc}") from None
    if parts.scheme != "http" or not parts.hostname or port is None:
        raise WifiError(
            f"{url!r} is not the http://HOST:PORT URL of an update server "
            "(home run --realtime prints it)"
        )
    if parts.query or parts.fragment:
        raise WifiError(f"{url!r}: an update server's URL has no query or fragment")
    return f"{url.rstrip('/')}/devices/{path_segment(device)}/check"


def post_trigger(url: str, device: str, *, timeout: float = TIMEOUT_S) -> str:
    """Make `device` check now; returns the server's sentence (e.g. "checking now")."""
    target = check_url(url, device)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    request = urllib.request.Request(target, data=b"", method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            status, body = response.status, response.read(MAX_REPLY_BYTES)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(MAX_REPLY_BYTES)
        exc.close()
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            raise WifiError(f"{url}: connection refused (no update server listens there)") from None
        raise WifiError(f"{url}: cannot reach the update server: {reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise WifiError(f"{url}: the update server's reply broke off: {exc}") from None
    said = _sentence(body)
    if status == 202 and said is not None:
        return said
    if said is None:
        raise WifiError(f"{url}: HTTP {status}, not a hanemu update server's reply")
    raise WifiError(f"{url}: device {device!r}: {said}")


def _sentence(body: bytes) -> str | None:
    """The "checking" or "error" sentence of a hanemu reply, or None."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    said = value.get("checking", value.get("error"))
    return said if isinstance(said, str) else None
