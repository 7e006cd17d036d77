"""Test drivers for the sans-IO OTA client: feed events, read decoded actions, no mocks."""

from __future__ import annotations

import random
from typing import Any

from emulator.ota import client as oc
from emulator.ota import frames
from emulator.ota.client import ClientIdentity, OtaClient
from emulator.ota.frames import Send, Status
from emulator.ota.image import build_image
from emulator.ota.policy import ClientPolicy

MFG = 0x1234
TYPE = 0x0101
SERVER = 0x0000
SERVER_IEEE = 0x000D6F0000198B36
OTHER_NODE = 0x7777
IDENTITY = ClientIdentity(MFG, TYPE, ieee=0x00124B0001020304)


def make_image(payload: bytes = b"firmware " * 40, version: int = 2, **kw: Any) -> bytes:
    kw.setdefault("manufacturer_id", MFG)
    kw.setdefault("image_type", TYPE)
    kw.setdefault("integrity", True)
    return build_image(payload, file_version=version, **kw)


def running_image(version: int = 1) -> bytes:
    return build_image(b"running", manufacturer_id=MFG, image_type=TYPE, file_version=version)


class ClientHarness:
    """Drives one real `OtaClient`; a test plays the server by sending real ZCL bytes."""

    def __init__(
        self,
        policy: ClientPolicy | None = None,
        *,
        current_version: int = 1,
        seed: int = 0,
        verifier: oc.Verifier | None = None,
        boot: oc.PowerRestored | None = None,
    ) -> None:
        self.client = OtaClient(IDENTITY, policy, rng=random.Random(seed), verifier=verifier)
        self.now = 0.0
        self.token: int | None = None
        self.due: float | None = None
        self.sent: list[frames.Frame] = []
        self.actions: list[Any] = []
        self.feed(boot or oc.PowerRestored(current_version))

    # -- plumbing ---------------------------------------------------------------------------

    def feed(self, event: oc.Event) -> list[Any]:
        actions = self.client.handle(event, self.now)
        self.actions.extend(actions)
        for action in actions:
            if isinstance(action, Send):
                self.sent.append(frames.decode(action.data))
            elif isinstance(action, oc.ArmTimer):
                self.token, self.due = action.token, self.now + action.delay
            elif isinstance(action, oc.CancelTimer):
                self.token = self.due = None
        return actions

    def fire(self) -> list[Any]:
        """Jump to the armed timer and fire it."""
        assert self.token is not None, "no timer armed"
        assert self.due is not None
        self.now = max(self.now, self.due)
        token, self.token, self.due = self.token, None, None
        return self.feed(oc.TimerFired(token))

    @property
    def timer_delay(self) -> float:
        assert self.due is not None
        return self.due - self.now

    def server_says(
        self,
        name: str,
        *,
        tsn: int | None = None,
        src: int = SERVER,
        broadcast: bool = False,
        ddr: bool | None = None,
        **fields: Any,
    ) -> list[Any]:
        if tsn is None:
            tsn = self.sent[-1].tsn if self.sent else 0
        data = frames.encode(name, tsn, disable_default_response=ddr, **fields)
        return self.raw(data, src=src, broadcast=broadcast)

    def raw(self, data: bytes, *, src: int = SERVER, broadcast: bool = False) -> list[Any]:
        return self.feed(oc.FrameReceived(data, src, broadcast))

    def sent_since(self, actions: list[Any]) -> list[frames.Frame]:
        return [frames.decode(a.data) for a in actions if isinstance(a, Send)]

    @property
    def last(self) -> frames.Frame:
        return self.sent[-1]

    # -- scripted phases -----------------------------------------------------------------------

    def to_query(self) -> frames.Frame:
        """Start, discover the server, and return the first Query Next Image Request."""
        self.feed(oc.Start())
        self.fire()
        self.feed(oc.ServerFound(SERVER))
        self.feed(oc.ServerEuiResolved(SERVER_IEEE))
        assert self.client.state is oc.State.QUERY_NEXT_IMAGE
        assert self.last.name == "query_next_image"
        return self.last

    def offer(self, image: bytes, *, version: int | None = None, **over: Any) -> list[Any]:
        fields = {
            "status": Status.SUCCESS,
            "manufacturer_code": MFG,
            "image_type": TYPE,
            "file_version": version if version is not None else _version(image),
            "image_size": len(image),
        }
        fields.update(over)
        return self.server_says("query_next_image_response", **fields)

    def to_download(self, image: bytes) -> frames.Frame:
        self.to_query()
        self.offer(image)
        assert self.client.state is oc.State.DOWNLOAD
        assert self.last.name in ("image_block", "image_page")
        return self.last

    def block(
        self, image: bytes, offset: int | None = None, size: int | None = None, **over: Any
    ) -> list[Any]:
        """Answer the last block request with real data from `image`."""
        req = self.last.command
        if offset is None:
            offset = req.file_offset
        size = size if size is not None else min(50, req.maximum_data_size)
        fields = {
            "status": Status.SUCCESS,
            "manufacturer_code": MFG,
            "image_type": TYPE,
            "file_version": _version(image),
            "file_offset": offset,
            "image_data": image[offset : offset + size],
        }
        fields.update(over)
        return self.server_says("image_block_response", **fields)

    def download_all(self, image: bytes) -> None:
        """Answer every block request with good data until the download ends."""
        answered = -1
        while self.client.state is oc.State.DOWNLOAD:
            if self.last.name == "image_block" and answered != len(self.sent):
                answered = len(self.sent)
                self.block(image)
            else:
                self.fire()

    def to_waiting(self, image: bytes) -> frames.Frame:
        self.to_download(image)
        self.download_all(image)
        assert self.client.state is oc.State.VERIFY_IMAGE
        self.fire()
        assert self.client.state is oc.State.WAITING_FOR_UPGRADE_MESSAGE, self.client.last_reason
        assert self.last.name == "upgrade_end"
        return self.last

    def upgrade_end_response(self, current: int, upgrade: int, **over: Any) -> list[Any]:
        fields = {
            "manufacturer_code": MFG,
            "image_type": TYPE,
            "file_version": self.client.downloaded_file_version,
            "current_time": current,
            "upgrade_time": upgrade,
        }
        fields.update(over)
        return self.server_says("upgrade_end_response", **fields)


def _version(image: bytes) -> int:
    return int.from_bytes(image[14:18], "little")


def default_responses(frames_sent: list[frames.Frame]) -> list[tuple[int, int]]:
    """(command id, status) of every Default Response in `frames_sent`."""
    return [
        (int(f.command.command_id), int(f.command.status))
        for f in frames_sent
        if f.name == frames.DEFAULT_RESPONSE
    ]
