"""The OTA Upgrade server (cluster 0x0019, server side: a Comms Hub) as a sans-IO machine.

This module owns how a server answers OTA clients: the image store (served images are held once
and shared by every client and server, never copied per client), Query Next Image matching
(manufacturer, image type, hardware range, version policy), block serving with a size cap,
WAIT_FOR_DATA rate limiting (relative or UTC form, with MinimumBlockPeriod), Image Page Requests,
Upgrade End Responses ("now", a delay, or 0xFFFFFFFF then an unsolicited "upgrade now"), Query
Device Specific File, and deliberate misbehaviour for testing clients (`ServerFault`: stall,
abort, wrong offset, size, data or file version, endless WAIT_FOR_DATA, duplicate answers). It is
fed received frames with the current time and returns `Send` actions (some delayed); it never
does I/O, reads a clock or keeps per-client copies of image data. Policy comes from
`ServerPolicy`, never from branches on who the client is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import FrameError
from emulator.ota import frames
from emulator.ota.frames import NO_UPGRADE_TIME, Send, Status
from emulator.ota.image import OtaHeader, parse_header
from emulator.ota.policy import ServerFault, ServerPolicy, TimeForm, UpgradeTime, VersionPolicy


@dataclass(frozen=True, slots=True)
class StoredImage:
    """One servable OTA file: its parsed header and its bytes (shared, read-only)."""

    header: OtaHeader
    data: bytes

    @property
    def key(self) -> tuple[int, int, int]:
        h = self.header
        return h.manufacturer_id, h.image_type, h.file_version

    @property
    def size(self) -> int:
        """The real file length (Digi: never trust the header's TotalImageSize), spec §1.4."""
        return len(self.data)


class ImageStore:
    """Images a server can offer, by (manufacturer, image type, file version)."""

    def __init__(self) -> None:
        self._images: dict[tuple[int, int, int], StoredImage] = {}
        self._specific: dict[tuple[int, int, int, int], StoredImage] = {}

    def add(self, data: bytes) -> StoredImage:
        """Store an OTA file (raises `ImageFormatError` if its header cannot be parsed)."""
        data = bytes(data)
        image = StoredImage(parse_header(data), data)
        destination = image.header.upgrade_file_destination
        if destination is None:
            self._images[image.key] = image
        else:
            self._specific[(destination, *image.key)] = image
        return image

    def __len__(self) -> int:
        return len(self._images) + len(self._specific)

    def get(self, manufacturer_id: int, image_type: int, file_version: int) -> StoredImage | None:
        """The stored file with exactly these ids (wildcards match only themselves here)."""
        return self._images.get((manufacturer_id, image_type, file_version))

    def get_for_block(
        self, manufacturer_id: int, image_type: int, file_version: int, ieee: int | None
    ) -> StoredImage | None:
        """The image a block request names: a file with the client's own ids, else one whose
        header has the wildcard for the manufacturer and/or the image type (the server offered it
        under the client's ids); a device-specific one needs the client's address."""
        image = self._images.get((manufacturer_id, image_type, file_version))
        if image is not None:  # the client's own ids: the first pattern below, found
            return image
        for mfg, itype in _id_patterns(manufacturer_id, image_type):
            image = self._images.get((mfg, itype, file_version))
            if image is None and ieee is not None:
                image = self._specific.get((ieee, mfg, itype, file_version))
            if image is not None:
                return image
        return None

    def candidates(self, manufacturer_id: int, image_type: int) -> list[StoredImage]:
        """Files a client with these ids may be offered: its own, and wildcard ones."""
        return [
            img
            for (mfg, itype, _), img in self._images.items()
            if _ids_match(mfg, itype, manufacturer_id, image_type)
        ]

    def specific(self, ieee: int, manufacturer_id: int, image_type: int) -> list[StoredImage]:
        return [
            img
            for (dest, mfg, itype, _), img in self._specific.items()
            if dest == ieee and _ids_match(mfg, itype, manufacturer_id, image_type)
        ]


def _ids_match(file_mfg: int, file_type: int, manufacturer_id: int, image_type: int) -> bool:
    """Whether a file's header ids cover a client's: equal, or the wildcard 0xFFFF (spec §3.1:
    Manufacturer Code 0xFFFF; §3.2: Image Type 0xFFFF)."""
    return file_mfg in (manufacturer_id, frames.WILDCARD_MANUFACTURER) and file_type in (
        image_type,
        frames.WILDCARD_IMAGE_TYPE,
    )


def _id_patterns(manufacturer_id: int, image_type: int) -> tuple[tuple[int, int], ...]:
    """Header ids that cover a client's, the most specific first."""
    wild_mfg, wild_type = frames.WILDCARD_MANUFACTURER, frames.WILDCARD_IMAGE_TYPE
    return (
        (manufacturer_id, image_type),
        (wild_mfg, image_type),
        (manufacturer_id, wild_type),
        (wild_mfg, wild_type),
    )


def _exactness(header: OtaHeader) -> int:
    """How many of a file's ids are not wildcards: an exact file beats a wildcard one of the same
    version."""
    return (header.manufacturer_id != frames.WILDCARD_MANUFACTURER) + (
        header.image_type != frames.WILDCARD_IMAGE_TYPE
    )


def _served(frame: frames.Frame, header: OtaHeader) -> tuple[int, int]:
    """The manufacturer code and image type a file is offered and served under: a wildcard in
    the header (0xFFFF) becomes the asking client's own value, since a client refuses an offer or
    a block naming another manufacturer or image type (spec §2.3, T15 and T21)."""
    cmd = frame.command
    mfg, itype = header.manufacturer_id, header.image_type
    return (
        int(cmd.manufacturer_code) if mfg == frames.WILDCARD_MANUFACTURER else mfg,
        int(cmd.image_type) if itype == frames.WILDCARD_IMAGE_TYPE else itype,
    )


def _served_ids(frame: frames.Frame, header: OtaHeader) -> dict[str, int]:
    """`_served` as the fields of an answer."""
    mfg, itype = _served(frame, header)
    return {"manufacturer_code": mfg, "image_type": itype}


#: Whether a version policy lets a query running `current` be offered `offered`.
_VERSION_OK: dict[VersionPolicy, Callable[[int, int], bool]] = {
    VersionPolicy.UPGRADE: lambda offered, current: offered > current,
    VersionPolicy.DOWNGRADE: lambda offered, current: offered < current,
    VersionPolicy.REINSTALL: lambda offered, current: offered == current,
    VersionPolicy.ANY: lambda offered, current: offered != current,
    VersionPolicy.NONE: lambda offered, current: False,
}


def _version_ok(policy: VersionPolicy, offered: int, current: int) -> bool:
    return _VERSION_OK[policy](offered, current)


def _preferred(image: StoredImage, best: StoredImage) -> bool:
    """Whether `image` is a better offer than `best`: a later version, or at the same version a
    file naming more of the client's ids (the one `ImageStore.get_for_block` then serves)."""
    a, b = image.header, best.header
    return (a.file_version, _exactness(a)) > (b.file_version, _exactness(b))


def _hardware_ok(header: OtaHeader, hardware_version: int | None) -> bool:
    low, high = header.minimum_hardware_version, header.maximum_hardware_version
    if hardware_version is None or low is None or high is None:
        return True
    return low <= hardware_version <= high


@dataclass(slots=True)
class _Session:
    """What the server remembers about one client."""

    last_block_at: float | None = None
    waited_for: set[tuple[int, int, int]] = field(default_factory=set)
    misbehaved: int = 0


@dataclass(slots=True)
class _Transfer:
    image: StoredImage
    offset: int
    size: int
    session: _Session
    fault: ServerFault | None


@dataclass(frozen=True, slots=True)
class UpgradeEndRecord:
    """An Upgrade End Request the server received."""

    time: float
    src: int
    status: int
    file_version: int


class OtaServer:
    """One OTA server. `handle(data, src, now)` answers a received frame."""

    def __init__(
        self, store: ImageStore, policy: ServerPolicy | None = None, *, tsn: int = 0
    ) -> None:
        self.store = store
        self.policy = policy or ServerPolicy()
        self._tsn = tsn & 0xFF
        self._sessions: dict[int, _Session] = {}
        self.upgrade_ends: list[UpgradeEndRecord] = []
        self.default_responses: list[tuple[int, int, int]] = []
        """(src, command id, status) of every Default Response received from clients."""
        self.blocks_served = 0
        self.bytes_served = 0

    # -- time fields ------------------------------------------------------------------------------

    def _times(self, now: float, delay: int) -> tuple[int, int]:
        """(CurrentTime, RequestTime/UpgradeTime) for a delay, in the policy's form."""
        if self.policy.time_form is TimeForm.RELATIVE:
            return 0, delay
        current = self.policy.utc_epoch_offset + int(now)
        return current, current + delay

    def _next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) & 0xFF
        return self._tsn

    # -- entry points -----------------------------------------------------------------------------

    def handle(self, data: bytes, src: int, now: float, *, broadcast: bool = False) -> list[Send]:
        """Answer one received frame from node `src`."""
        try:
            frame = frames.decode(data)
        except FrameError as exc:
            header = exc.header
            if header is None or broadcast or header.direction != frames.C2S:
                return []
            if header.is_default_response:
                return []
            return [self._default_response(src, header, exc.status)]
        if frame.direction != frames.C2S:
            return []
        handler = _HANDLERS.get(frame.name)
        if handler is None:
            return []
        out = handler(self, frame, src, now)
        if broadcast:  # ZCL: no Default Response to a broadcast
            out = [s for s in out if not frames.decode_header(s.data)[0].is_default_response]
        return out

    def notify(
        self,
        dst: int,
        *,
        query_jitter: int = 100,
        payload_type: int = 0,
        manufacturer_code: int | None = None,
        image_type: int | None = None,
        new_file_version: int | None = None,
        broadcast: bool = False,
    ) -> list[Send]:
        """An Image Notify (unicast: default responses allowed; broadcast: disabled), spec §1.3."""
        data = frames.encode(
            "image_notify",
            self._next_tsn(),
            disable_default_response=broadcast,
            payload_type=payload_type,
            query_jitter=query_jitter,
            manufacturer_code=manufacturer_code,
            image_type=image_type,
            new_file_version=new_file_version,
        )
        return [Send(data, dst)]

    def upgrade_now(
        self,
        dst: int,
        now: float,
        *,
        manufacturer_code: int = frames.WILDCARD_MANUFACTURER,
        image_type: int = frames.WILDCARD_IMAGE_TYPE,
        file_version: int = frames.WILDCARD_FILE_VERSION,
        delay: float = 0.0,
    ) -> list[Send]:
        """The unsolicited Upgrade End Response with UpgradeTime "now" (EmberZNet, spec §2.6)."""
        current, upgrade = self._times(now + delay, 0)
        data = frames.encode(
            "upgrade_end_response",
            self._next_tsn(),
            manufacturer_code=manufacturer_code,
            image_type=image_type,
            file_version=file_version,
            current_time=current,
            upgrade_time=upgrade,
        )
        return [Send(data, dst, delay)]

    # -- helpers ----------------------------------------------------------------------------------

    def _default_response(self, dst: int, header: Any, status: Status) -> Send:
        return Send(
            frames.encode_default_response(header.tsn, header.command_id, status, frames.S2C), dst
        )

    def _reply(
        self, frame: frames.Frame, dst: int, name: str, delay: float = 0.0, **f: Any
    ) -> Send:
        return Send(frames.encode(name, frame.tsn, **f), dst, delay)

    def _session(self, src: int) -> _Session:
        session = self._sessions.get(src)
        if session is None:
            session = self._sessions[src] = _Session()
        return session

    # -- commands ---------------------------------------------------------------------------------

    def _on_query_next_image(self, frame: frames.Frame, src: int, now: float) -> list[Send]:
        cmd = frame.command
        p = self.policy
        hw = cmd.hardware_version if int(cmd.field_control) & 1 else None
        best: StoredImage | None = None
        for image in self.store.candidates(cmd.manufacturer_code, cmd.image_type):
            version = image.header.file_version
            if not _version_ok(p.version_policy, version, cmd.current_file_version):
                continue
            if p.check_hardware_range and not _hardware_ok(image.header, hw):
                continue
            if best is None or _preferred(image, best):
                best = image
        return [self._image_answer(frame, src, "query_next_image_response", best)]

    def _image_answer(
        self, frame: frames.Frame, src: int, name: str, image: StoredImage | None
    ) -> Send:
        if image is None:
            return self._reply(frame, src, name, status=Status.NO_IMAGE_AVAILABLE)
        h = image.header
        return self._reply(
            frame,
            src,
            name,
            status=Status.SUCCESS,
            **_served_ids(frame, h),
            file_version=h.file_version,
            image_size=image.size,
        )

    def _misbehaviour(self, session: _Session, offset: int) -> ServerFault | None:
        p = self.policy
        if p.misbehaviour is ServerFault.NONE or offset < p.misbehave_from_offset:
            return None
        if p.misbehave_count is not None and session.misbehaved >= p.misbehave_count:
            return None
        session.misbehaved += 1
        return p.misbehaviour

    def _wait(self, frame: frames.Frame, src: int, now: float, delay: int) -> list[Send]:
        current, request = self._times(now, delay)
        period = self.policy.min_block_period
        return [
            self._reply(
                frame,
                src,
                "image_block_response",
                status=Status.WAIT_FOR_DATA,
                current_time=current,
                request_time=request,
                minimum_block_period=period if period is not None else 0,
            )
        ]

    def _rate_limit(
        self, frame: frames.Frame, src: int, now: float, session: _Session, image: StoredImage
    ) -> list[Send] | None:
        """WAIT_FOR_DATA when the image is not ready yet or the client asks too fast."""
        p = self.policy
        cmd = frame.command
        if p.wait_for_data_s > 0 and image.key not in session.waited_for:
            session.waited_for.add(image.key)
            return self._wait(frame, src, now, p.wait_for_data_s)
        if p.min_block_period is None:
            return None
        carries = frame.name == "image_block" and int(cmd.field_control) & 2
        if carries and cmd.minimum_block_period != p.min_block_period:
            return self._wait(frame, src, now, 0)
        period = p.min_block_period * p.min_block_period_scale
        if session.last_block_at is not None and now - session.last_block_at < period - 1e-9:
            return self._wait(frame, src, now, math.ceil(period - (now - session.last_block_at)))
        return None

    def _block_size(self, frame: frames.Frame) -> int:
        return min(int(frame.command.maximum_data_size), self.policy.block_size_cap)

    def _block(
        self,
        frame: frames.Frame,
        src: int,
        image: StoredImage,
        offset: int,
        size: int,
        delay: float = 0.0,
        fault: ServerFault | None = None,
    ) -> Send:
        if fault is ServerFault.WRONG_SIZE:
            size = int(frame.command.maximum_data_size) + 1
        chunk = bytes(image.data[offset : offset + size])  # the one copy: the block's bytes
        if fault is ServerFault.CORRUPT_DATA and chunk:
            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
        header = image.header
        version = header.file_version
        if fault is ServerFault.WRONG_FILE_VERSION:
            version = (version + 1) & 0xFFFFFFFF
        self.blocks_served += 1
        self.bytes_served += len(chunk)
        mfg, itype = _served(frame, header)
        data = frames.encode_image_block_response(frame.tsn, mfg, itype, version, offset, chunk)
        return Send(data, src, delay)

    def _lookup(self, frame: frames.Frame) -> StoredImage | None:
        cmd = frame.command
        ieee = frames.eui64_int(cmd.request_node_addr) if int(cmd.field_control) & 1 else None
        return self.store.get_for_block(
            cmd.manufacturer_code, cmd.image_type, cmd.file_version, ieee
        )

    def _start_transfer(self, frame: frames.Frame, src: int, now: float) -> list[Send] | _Transfer:
        """What block and page requests share: find the image, check the offset, inject the
        misbehaviour, rate-limit. Returns the answer when it ends there."""
        image = self._lookup(frame)
        if image is None:
            return [self._default_response(src, frame.header, Status.NO_IMAGE_AVAILABLE)]
        offset = int(frame.command.file_offset)
        if offset >= image.size:
            return [self._default_response(src, frame.header, Status.MALFORMED_COMMAND)]
        session = self._session(src)
        p = self.policy
        fault = None
        if p.misbehaviour is not ServerFault.NONE:
            fault = self._misbehaviour(session, offset)
            if fault is ServerFault.STALL:
                return []
            if fault is ServerFault.ABORT:
                return [self._reply(frame, src, "image_block_response", status=Status.ABORT)]
            if fault is ServerFault.ENDLESS_WAIT:
                return self._wait(frame, src, now, ENDLESS_WAIT_S)
        if p.wait_for_data_s > 0 or p.min_block_period is not None:  # else never limited
            limited = self._rate_limit(frame, src, now, session, image)
            if limited is not None:
                return limited
        return _Transfer(image, offset, self._block_size(frame), session, fault)

    def _on_image_block(self, frame: frames.Frame, src: int, now: float) -> list[Send]:
        t = self._start_transfer(frame, src, now)
        if isinstance(t, list):
            return t
        offset = t.offset
        if t.fault is ServerFault.WRONG_OFFSET:
            offset = min(offset + t.size, t.image.size - 1)
        t.session.last_block_at = now
        return _twice_if(t.fault, [self._block(frame, src, t.image, offset, t.size, fault=t.fault)])

    def _on_image_page(self, frame: frames.Frame, src: int, now: float) -> list[Send]:
        if not self.policy.support_page_requests:
            return [self._default_response(src, frame.header, Status.UNSUP_CLUSTER_COMMAND)]
        t = self._start_transfer(frame, src, now)
        if isinstance(t, list):
            return t
        cmd, image, offset, size, session = frame.command, t.image, t.offset, t.size, t.session
        end = min(image.size, offset + int(cmd.page_size))
        spacing = int(cmd.response_spacing) / 1000
        out: list[Send] = []
        while offset < end:
            n = min(size, end - offset)
            out.append(
                self._block(frame, src, image, offset, n, delay=len(out) * spacing, fault=t.fault)
            )
            offset += n
        session.last_block_at = now + max(0, len(out) - 1) * spacing
        return _twice_if(t.fault, out)

    def _on_upgrade_end(self, frame: frames.Frame, src: int, now: float) -> list[Send]:
        cmd = frame.command
        p = self.policy
        self.upgrade_ends.append(UpgradeEndRecord(now, src, int(cmd.status), cmd.file_version))
        if cmd.status != Status.SUCCESS:
            return [self._default_response(src, frame.header, Status.SUCCESS)]
        ids = {
            "manufacturer_code": cmd.manufacturer_code,
            "image_type": cmd.image_type,
            "file_version": cmd.file_version,
        }
        if p.upgrade_time is UpgradeTime.WAIT:
            current, _ = self._times(now, 0)
            out = [
                self._reply(
                    frame,
                    src,
                    "upgrade_end_response",
                    current_time=current,
                    upgrade_time=NO_UPGRADE_TIME,
                    **ids,
                )
            ]
            if p.release_after_s is not None:
                out += self.upgrade_now(src, now, delay=p.release_after_s, **ids)
            return out
        delay = 0 if p.upgrade_time is UpgradeTime.NOW else p.upgrade_delay_s
        current, upgrade = self._times(now, delay)
        return [
            self._reply(
                frame,
                src,
                "upgrade_end_response",
                current_time=current,
                upgrade_time=upgrade,
                **ids,
            )
        ]

    def _on_query_specific_file(self, frame: frames.Frame, src: int, now: float) -> list[Send]:
        if not self.policy.support_device_specific_files:
            return [self._default_response(src, frame.header, Status.UNSUP_CLUSTER_COMMAND)]
        cmd = frame.command
        best: StoredImage | None = None
        for image in self.store.specific(
            frames.eui64_int(cmd.request_node_addr), cmd.manufacturer_code, cmd.image_type
        ):
            version = image.header.file_version
            if _version_ok(self.policy.version_policy, version, cmd.file_version) and (
                best is None or _preferred(image, best)
            ):
                best = image
        return [self._image_answer(frame, src, "query_specific_file_response", best)]

    def _on_default_response(self, frame: frames.Frame, src: int, now: float) -> list[Send]:
        cmd = frame.command
        self.default_responses.append((src, int(cmd.command_id), int(cmd.status)))
        return []


ENDLESS_WAIT_S = 1
"""RequestTime (relative) of the WAIT_FOR_DATA an "endless-wait" server keeps answering."""


def _twice_if(fault: ServerFault | None, out: list[Send]) -> list[Send]:
    """A "duplicate" server's answer: every frame sent twice, each copy right after itself."""
    if fault is not ServerFault.DUPLICATE:
        return out
    return [copy for send in out for copy in (send, send)]


#: The command a client sent -> the server's answer to it.
_HANDLERS: dict[str, Callable[[OtaServer, frames.Frame, int, float], list[Send]]] = {
    "query_next_image": OtaServer._on_query_next_image,
    "image_block": OtaServer._on_image_block,
    "image_page": OtaServer._on_image_page,
    "upgrade_end": OtaServer._on_upgrade_end,
    "query_specific_file": OtaServer._on_query_specific_file,
    frames.DEFAULT_RESPONSE: OtaServer._on_default_response,
}
