"""The update server of the Wi-Fi route: the supplier's (or manufacturer's) HTTP service.

An `UpdateServer` is an aiohttp `web.Application` on 127.0.0.1 at an ephemeral port. It serves

* `GET /manifests/<device>.json`: the manifest a campaign published for that device;
* `GET /images/<name>`: an image a campaign published;
* `POST /devices/<device>/check`: the reactive trigger, which makes that device check now
  (202 when it does, 404 for a device the server does not know, 503 when the device cannot).

Device names and image names travel percent-encoded as one path segment (`path_segment`), so
any name a home file allows reaches the right device. Unknown paths get 404 and other methods
405, each with a one-line JSON `{"error": ...}`.

This module owns the HTTP side of the update service. It never checks what it serves: it serves
whatever a campaign published, rogue variants included (the device must refuse them), never
decides what a device does with a trigger (`on_check` does) and never reads a clock.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from urllib.parse import quote, unquote

from aiohttp import web

HOST = "127.0.0.1"
TRIGGER_ACCEPTED = 202
TRIGGER_UNKNOWN = 404
TRIGGER_UNAVAILABLE = 503

CheckHandler = Callable[[str], tuple[int, str]]
"""Called with a device name when its trigger is POSTed; returns an HTTP status (202, 404, 503)
and one sentence for the reply."""


def path_segment(name: str) -> str:
    """`name` as one percent-encoded path segment (a '/' in it included)."""
    return quote(name, safe="")


class UpdateServer:
    """The update service of one run: what campaigns published, served over loopback HTTP."""

    def __init__(self, on_check: CheckHandler) -> None:
        self.on_check = on_check
        self.manifests: dict[str, bytes] = {}
        """Device name -> the manifest's bytes, as published."""
        self.images: dict[str, bytes] = {}
        """Image name -> its bytes, as published."""
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self.url = ""
        """`http://127.0.0.1:PORT` once started."""

    # -- what campaigns publish -----------------------------------------------------------------

    def publish(self, device: str, manifest: bytes, image_name: str, image: bytes) -> None:
        self.manifests[device] = manifest
        self.images[image_name] = image

    def manifest_url(self, device: str) -> str:
        return f"{self.url}/manifests/{path_segment(device)}.json"

    def image_url(self, name: str) -> str:
        return f"{self.url}/images/{path_segment(name)}"

    def check_url(self, device: str) -> str:
        return f"{self.url}/devices/{path_segment(device)}/check"

    # -- serving --------------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on an ephemeral loopback port; returns the base URL."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((HOST, 0))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self.url = f"http://{HOST}:{sock.getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        parts = request.rel_url.raw_path.split("/")[1:]
        names = [unquote(p, errors="replace") for p in parts]
        if request.method == "GET" and len(names) == 2 and names[0] == "manifests":
            if not names[1].endswith(".json"):
                return _error(404, "a manifest's path ends in .json")
            data = self.manifests.get(names[1].removesuffix(".json"))
            if data is None:
                return _error(404, "no manifest published for this device")
            return web.Response(body=data, content_type="application/json")
        if request.method == "GET" and len(names) == 2 and names[0] == "images":
            data = self.images.get(names[1])
            if data is None:
                return _error(404, "no such image")
            return web.Response(body=data, content_type="application/octet-stream")
        if len(names) == 3 and names[0] == "devices" and names[2] == "check":
            if request.method != "POST":
                return _error(405, "POST to this path makes the device check now")
            status, sentence = self.on_check(names[1])
            key = "checking" if status == TRIGGER_ACCEPTED else "error"
            return _json(status, {"device": names[1], key: sentence})
        if names and names[0] in ("manifests", "images") and request.method != "GET":
            return _error(405, "only GET is served here")
        return _error(404, "not a path this server serves")


def _error(status: int, sentence: str) -> web.Response:
    return _json(status, {"error": sentence})


def _json(status: int, body: dict[str, str]) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body, ensure_ascii=True), content_type="application/json"
    )
