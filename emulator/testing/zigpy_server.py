"""Misbehaving OTA clients against zigpy's stock OTA server: one run, and what zigpy did in it.

Owns `run_against_zigpy`: one plain OTA client with misbehaviour knobs (`ClientPolicy`, drawn by
`strategies.misbehaviours` or given), on hanemu's zigpy air, served by zigpy's own
`update_firmware` in virtual time (`radio.timeloop`, so a seed replays exactly), with every OTA
frame on the air recorded; and `observe`, which turns a run into short sentences about what zigpy
did (what `update_firmware` came to, how it answered each kind of request), counted by
`hanemu fuzz --target zigpy-server`. What zigpy does, raises or never finishes is an
observation, never an error here; only hanemu's own errors (`HanemuError`) may leave a run, and
anything else from hanemu's side is a bug the fuzz target reports. It never mocks zigpy and never
reads wall time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zigpy.zcl import foundation

from emulator.device.campaign import ActivationPlan
from emulator.device.emulated import PowerCut
from emulator.device.report import DeviceReport
from emulator.errors import FrameError
from emulator.ota import frames
from emulator.ota.client import OutcomeKind
from emulator.ota.frames import Status
from emulator.ota.image import build_image
from emulator.ota.policy import ClientPolicy
from emulator.radio.zigpy_air import ZigpyUpdate
from emulator.scenario import (
    PLAIN_DEVICE_IEEE,
    CampaignSpec,
    DeviceSpec,
    Scenario,
    ScenarioRun,
    plain_identity,
)

MFG, TYPE, OLD, NEW = 0x1234, 0x0101, 1, 2
"""The fuzzed client's manufacturer code and image type, its running and its offered version."""
OTA = 0x0019
ZIGPY = 0x0000
"""zigpy's coordinator, the OTA server (NWK address)."""
DURATION_S = 900.0
"""Virtual time a run may take: zigpy gives up after 30 s without progress (60 s after the last
block), so every update has come to an end well before."""
FRAME_BUDGET = 3000
"""OTA frames after which a run is stopped: a 1,500-byte image takes about 100 with every
misbehaviour; more means a server that does not stop sending."""
HOLD_S = 200.0
"""A run goes on at least this long (virtual), even when the device settled sooner: zigpy's
`update_firmware` returns after the device's last frame, and may still answer later ones."""


@functools.cache
def fuzz_image(size: int) -> bytes:
    """The offered OTA file: about `size` bytes, with an Image Integrity Code."""
    return build_image(
        bytes(i * 7 & 0xFF for i in range(max(0, size - 90))),
        manufacturer_id=MFG,
        image_type=TYPE,
        file_version=NEW,
        integrity=True,
    )


@dataclass(frozen=True, slots=True)
class OtaFrame:
    """One OTA frame that landed on the air."""

    time: float
    from_zigpy: bool
    data: bytes
    frame: frames.Frame | None
    """None: bytes zigpy's or hanemu's decoder would refuse."""

    @property
    def tsn(self) -> int | None:
        return (
            self.frame.tsn
            if self.frame is not None
            else (self.data[1] if len(self.data) > 1 else None)
        )

    @property
    def name(self) -> str:
        return self.frame.name if self.frame is not None else "undecodable"


@dataclass(slots=True)
class _Wire:
    """A capture that keeps the OTA frames (cluster 0x0019) landing on the air, and ends the run
    once there are more than `FRAME_BUDGET` (zigpy can send without end). It stops the run the
    way a signal would (`ScenarioRun.interruption`: `attach`, `detach`, `signum`)."""

    frames: list[OtaFrame] = field(default_factory=list)
    stops: list[Callable[[], None]] = field(default_factory=list)
    over_budget: bool = False
    signum: int | None = None

    def attach(self, stop: Callable[[], None]) -> None:
        self.stops.append(stop)

    def detach(self, stop: Callable[[], None]) -> None:
        self.stops.remove(stop)

    def __call__(self, packet: Any, now: float) -> None:
        if packet.cluster_id != OTA:
            return
        if len(self.frames) >= FRAME_BUDGET:
            if not self.over_budget:
                self.over_budget = True
                for stop in self.stops:
                    stop()
            return
        data = packet.data.serialize()
        try:
            frame: frames.Frame | None = frames.decode(data)
        except FrameError:
            frame = None
        from_zigpy = packet.src is not None and packet.src.address == ZIGPY
        self.frames.append(OtaFrame(now, from_zigpy, data, frame))


@dataclass(frozen=True, slots=True)
class ZigpyRun:
    """One misbehaving client against zigpy's OTA server."""

    knobs: Mapping[str, Any]
    image: bytes
    report: DeviceReport
    update: ZigpyUpdate | None
    """What zigpy's `update_firmware` came to (None: zigpy never started one)."""
    wire: tuple[OtaFrame, ...]
    over_budget: bool
    """The run was stopped after `FRAME_BUDGET` OTA frames."""
    running_image: bytes
    """The device's running image at the end."""


def run_against_zigpy(
    knobs: Mapping[str, Any],
    *,
    image_size: int = 700,
    seed: int = 0,
    power_cut_at: float | None = None,
    duration: float = DURATION_S,
) -> ZigpyRun:
    """One plain client with `knobs` (ClientPolicy fields) downloading a `fuzz_image` from
    zigpy's `update_firmware`; `power_cut_at` cuts its power once at that fraction of the
    download (off for 5 s)."""
    image = fuzz_image(image_size)
    cuts = () if power_cut_at is None else (PowerCut(at_fraction=power_cut_at, off_for_s=5.0),)
    device = DeviceSpec(
        name="device",
        zigbee=plain_identity(MFG, TYPE, OLD),
        policy=ClientPolicy(**knobs),
        power_cuts=cuts,
        ieee=PLAIN_DEVICE_IEEE,
    )
    scenario = Scenario(
        name="zigpy-server fuzz",
        devices=(device,),
        campaigns=(CampaignSpec(("device",), image=image, plan=ActivationPlan(mode="none")),),
        server_implementation="zigpy",
        radio="zigpy",
        duration=duration,
        seed=seed,
    )
    wire = _Wire()
    engine = ScenarioRun(scenario, None, None, captures=[wire])
    engine.interruption = wire  # type: ignore[assignment]  (the frame budget stops the run)
    engine.hold_until = min(duration, HOLD_S)  # for zigpy to return after the device settled
    (report,) = engine.run().devices
    updates = engine.air.zigpy_updates
    return ZigpyRun(
        knobs=dict(knobs),
        image=image,
        report=report,
        update=updates[0] if updates else None,
        wire=tuple(wire.frames),
        over_budget=wire.over_budget,
        running_image=engine.devices[0][1].flash.running,
    )


def check_hanemu_side(run: ZigpyRun) -> None:
    """What must hold on hanemu's side whatever zigpy did: a device that says it activated runs
    exactly the offered image; one that did not still runs its old version."""
    if run.report.outcome is OutcomeKind.ACTIVATED:
        assert run.running_image == run.image, "activated an image that is not the offered one"
    else:
        assert run.report.final_file_version == OLD, "switched firmware without activating"


def _status(value: Any) -> str:
    try:
        return Status(int(value)).name
    except ValueError:
        return f"0x{int(value):02X}"


def _cut_short(f: OtaFrame) -> bool:
    """Whether a frame the device sent is a cut-short Image Block Request (a misbehaviour),
    rather than a general ZCL command (attribute reads and reports are no OTA commands)."""
    if f.from_zigpy or f.frame is not None or not f.data:
        return False
    try:
        header, _ = frames.decode_header(f.data)
    except (FrameError, IndexError):
        return False
    return (
        header.frame_control.frame_type == foundation.FrameType.CLUSTER_COMMAND
        and header.command_id == frames.command_id("image_block")
        and header.direction == frames.C2S
    )


def _answer(run: ZigpyRun, index: int) -> OtaFrame | None:
    """zigpy's answer to the device's frame `run.wire[index]`: its first frame with the same
    ZCL sequence number after it (zigpy answers with the request's), before the device uses that
    number for another request (sequence numbers wrap after 256; a duplicate is the same
    request)."""
    request = run.wire[index]
    for later in run.wire[index + 1 :]:
        if later.tsn != request.tsn:
            continue
        if not later.from_zigpy and later.data != request.data:
            return None
        if later.from_zigpy and later.name != "image_notify":
            return later
    return None


def _described(answer: OtaFrame | None) -> str:
    if answer is None:
        return "no answer"
    if answer.frame is None:
        return "an undecodable frame"
    cmd = answer.frame.command
    if answer.name == frames.DEFAULT_RESPONSE:
        return f"Default Response {_status(cmd.status)}"
    if answer.name in ("image_block_response", "query_next_image_response"):
        words = answer.name.replace("_", " ").title()
        return f"{words} {_status(cmd.status)}"
    if answer.name == "upgrade_end_response":
        when = "0 (upgrade now)" if int(cmd.upgrade_time) == 0 else str(int(cmd.upgrade_time))
        return f"Upgrade End Response, UpgradeTime {when}"
    return answer.name


def _returned(u: ZigpyUpdate | None) -> str:
    if u is None:
        return "zigpy: update_firmware never started"
    if u.result is None:
        return "zigpy: update_firmware had not returned when the run ended"
    if u.result.startswith("raised"):
        return f"zigpy: update_firmware {u.result.split(':')[0]}"
    return f"zigpy: update_firmware returned {u.result}"


def observe(run: ZigpyRun) -> list[str]:
    """What zigpy did in `run`, as short sentences (the same sentence for the same behaviour)."""
    u = run.update
    seen = [_returned(u), f"device: {run.report.outcome}"]
    if run.over_budget:
        seen.append(f"zigpy: sent OTA frames without end (run stopped after {FRAME_BUDGET})")
    if run.report.oversize_frames:
        seen.append(f"air: refused a frame no 802.15.4 frame holds ({run.report.oversize_reason})")
    ended = u.ended_at if u is not None else None
    covered: set[int] = set()
    size = len(run.image)
    for index, f in enumerate(run.wire):
        if f.from_zigpy:
            if f.frame is not None and f.name == "image_block_response":
                covered |= _served(run, f, seen)
            continue
        answer = _answer(run, index)
        after = "after update_firmware returned, " if ended is not None and f.time > ended else ""
        if _cut_short(f):
            seen.append(f"zigpy: {after}answered a cut-short request with {_described(answer)}")
        if f.frame is None:
            continue
        cmd = f.frame.command
        if f.name == "upgrade_end":
            early = " before the image was complete" if len(covered) < size else ""
            what = f"Upgrade End Request {_status(cmd.status)}{early}"
            seen.append(f"zigpy: {after}answered an {what} with {_described(answer)}")
        elif f.name == "image_block":
            seen.extend(_block_answer(cmd, answer, after, size))
        elif f.name == "image_page" and after:
            seen.append("zigpy: after update_firmware returned, got an Image Page Request")
        elif f.name == "query_next_image" and after:
            seen.append(
                f"zigpy: after update_firmware returned, answered a Query Next Image Request "
                f"with {_described(answer)}"
            )
    return list(dict.fromkeys(seen))


def _served(run: ZigpyRun, f: OtaFrame, seen: list[str]) -> set[int]:
    """The image bytes a block zigpy sent covers (and a note if they are not the image's)."""
    cmd = f.frame.command
    if cmd.status != Status.SUCCESS:
        return set()
    data, offset = bytes(cmd.image_data), int(cmd.file_offset)
    if data != run.image[offset : offset + len(data)]:
        seen.append("zigpy: served bytes that differ from the image at that offset")
    return set(range(offset, offset + len(data)))


def _block_answer(cmd: Any, answer: OtaFrame | None, after: str, size: int) -> list[str]:
    """What zigpy's answer to one Image Block Request shows (nothing when it is ordinary)."""
    if not after and answer is not None and answer.name == "image_block_response":
        sent = answer.frame.command
        if sent.status == Status.SUCCESS:
            notes = []
            if cmd.manufacturer_code != MFG:
                notes.append("zigpy: served a block to a request naming another manufacturer code")
            if cmd.image_type != TYPE:
                notes.append("zigpy: served a block to a request naming another image type")
            if len(sent.image_data) > cmd.maximum_data_size:
                notes.append("zigpy: served more than the MaximumDataSize asked")
            return notes
    why = ""
    if int(cmd.file_offset) >= size:
        why = " (FileOffset at or past the end)"
    elif int(cmd.maximum_data_size) == 0:
        why = " (MaximumDataSize 0)"
    return [f"zigpy: {after}answered an Image Block Request{why} with {_described(answer)}"]
