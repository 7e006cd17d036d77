"""Every misbehaviour knob of `ClientPolicy`, seen on the wire by hanemu's own OTA server.

Each test runs one plain OTA client with one knob through the scenario engine on the direct air,
against the hub's real `OtaServer`, which here also keeps a log of what it heard and said
(`HeardServer`). The tests assert what a server sees: the requests' fields, their order and
timing, the Upgrade End Requests and the Default Responses. A last test shows that with every
knob at its default the client sends the same frames as before (the well-behaved client).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from emulator.device.campaign import ActivationPlan
from emulator.errors import PolicyError
from emulator.ota import frames
from emulator.ota.client import OutcomeKind, State
from emulator.ota.frames import Send, Status
from emulator.ota.image import build_image
from emulator.ota.policy import ClientPolicy, ServerPolicy
from emulator.ota.server import ImageStore, OtaServer
from emulator.scenario import ScenarioRun, one_device

MFG, TYPE = 0x1234, 0x0101
IMAGE = build_image(
    bytes(range(256)) * 4, manufacturer_id=MFG, image_type=TYPE, file_version=2, integrity=True
)
BLOCK = 56  # what the client asks and the server serves by default


@dataclass(frozen=True, slots=True)
class Heard:
    time: float
    frame: frames.Frame | None
    """None: bytes the server could not decode (it answered them with a Default Response)."""
    data: bytes


class HeardServer(OtaServer):
    """hanemu's OTA server, logging every frame it heard and every frame it sent."""

    def __init__(self, policy: ServerPolicy | None = None) -> None:
        super().__init__(ImageStore(), policy)
        self.heard: list[Heard] = []
        self.said: list[frames.Frame] = []

    def handle(self, data: bytes, src: int, now: float, *, broadcast: bool = False) -> list[Send]:
        try:
            frame: frames.Frame | None = frames.decode(data)
        except Exception:
            frame = None
        self.heard.append(Heard(now, frame, data))
        out = super().handle(data, src, now, broadcast=broadcast)
        self.said.extend(frames.decode(s.data) for s in out)
        return out

    def requests(self, name: str) -> list[Heard]:
        return [h for h in self.heard if h.frame is not None and h.frame.name == name]

    def offsets(self) -> list[int]:
        return [h.frame.command.file_offset for h in self.requests("image_block")]


def run(server_policy: ServerPolicy | None = None, duration: float = 3600.0, **knobs: Any):
    """One plain client with `knobs` against a `HeardServer`: (report, server, client)."""
    scenario = one_device(profile=None, image=IMAGE, plan=ActivationPlan(mode="none"))
    device = replace(scenario.devices[0], policy=ClientPolicy(**knobs))
    scenario = replace(scenario, devices=(device,), duration=duration)
    server = HeardServer(server_policy)
    engine = ScenarioRun(scenario, None, None, server=server)
    report = engine.run()
    (device_report,) = report.devices
    return device_report, server, engine.devices[0][1].client


def test_claimed_max_data_size_asks_for_0xff_whatever_a_frame_holds():
    report, server, _ = run(claimed_max_data_size=0xFF)
    sizes = {h.frame.command.maximum_data_size for h in server.requests("image_block")}
    assert sizes == {0xFF}
    assert report.outcome is OutcomeKind.ACTIVATED  # the hub caps blocks at what fits (56)


def test_stop_after_blocks_stalls_the_download():
    report, server, client = run(stop_after_blocks=3)
    assert server.offsets() == [0, BLOCK, 2 * BLOCK]
    assert client.state is State.DOWNLOAD and client.file_offset == 3 * BLOCK
    assert report.outcome is not OutcomeKind.ACTIVATED


def test_shuffle_offsets_asks_out_of_order_and_still_completes():
    report, server, _ = run(shuffle_offsets=True)
    offsets = server.offsets()
    assert offsets != sorted(offsets)
    assert set(range(0, len(IMAGE), BLOCK)) <= set(offsets)
    assert report.outcome is OutcomeKind.ACTIVATED


def test_shuffle_offsets_is_drawn_from_the_seed():
    first = run(shuffle_offsets=True)[1].offsets()
    assert run(shuffle_offsets=True)[1].offsets() == first


@pytest.mark.parametrize("shift", [7, -5])
def test_misaligned_offset_moves_the_second_request(shift):
    report, server, _ = run(misaligned_offset=shift)
    offsets = server.offsets()
    assert offsets[:2] == [0, BLOCK + shift]
    assert report.outcome is OutcomeKind.ACTIVATED
    if shift > 0:  # the gap it left is asked for afterwards
        assert BLOCK in offsets[2:]


def test_fail_block_after_asks_for_the_same_block_again():
    report, server, _ = run(fail_block_after=1)
    assert server.offsets()[:3] == [0, BLOCK, BLOCK]
    assert report.outcome is OutcomeKind.ACTIVATED and report.retries >= 1


def test_malformed_request_after_blocks_gets_a_default_response():
    report, server, _ = run(malformed_request_after_blocks=2)
    cut = [h for h in server.heard if h.frame is None]
    assert len(cut) == 1
    answers = [f for f in server.said if f.name == frames.DEFAULT_RESPONSE]
    assert [(int(f.command.command_id), f.command.status) for f in answers] == [
        (frames.command_id("image_block"), Status.MALFORMED_COMMAND)
    ]
    assert report.outcome is OutcomeKind.ACTIVATED


def test_abort_after_blocks_sends_upgrade_end_abort():
    report, server, _ = run(abort_after_blocks=2, query_interval_s=100_000)
    assert server.offsets() == [0, BLOCK]
    assert [e.status for e in server.upgrade_ends] == [Status.ABORT]
    assert report.outcome is OutcomeKind.FAILED
    assert "abort_after_blocks" in report.reason


@pytest.mark.parametrize("after", [0, 3])
def test_upgrade_end_after_blocks_comes_early_and_the_download_goes_on(after):
    report, server, _ = run(upgrade_end_after_blocks=after)
    names = [h.frame.name for h in server.heard if h.frame is not None]
    first_end = names.index("upgrade_end")
    # Sent just before the request for block `after`, at the same instant: the air's jitter
    # may land that request first.
    assert names[:first_end].count("image_block") in (after, after + 1)
    assert [e.status for e in server.upgrade_ends] == [Status.SUCCESS, Status.SUCCESS]
    assert report.outcome is OutcomeKind.ACTIVATED


def test_upgrade_end_status_replaces_the_clients_verdict_on_the_wire():
    report, server, _ = run(upgrade_end_status=int(Status.INVALID_IMAGE))
    assert {e.status for e in server.upgrade_ends} == {Status.INVALID_IMAGE}
    # The hub takes a failed Upgrade End as the end: Default Response SUCCESS, no "upgrade now";
    # the client then applies its own verdict when its waits run out (timeout policy "apply").
    assert report.outcome is OutcomeKind.ACTIVATED


def test_send_upgrade_end_false_sends_none_and_the_timeout_policy_applies():
    report, server, _ = run(send_upgrade_end=False)
    assert server.requests("upgrade_end") == []
    assert report.outcome is OutcomeKind.ACTIVATED


def test_request_delay_ms_spaces_every_request():
    report, server, _ = run(request_delay_ms=2000)
    times = [h.time for h in server.requests("image_block")]
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(times))
    assert report.outcome is OutcomeKind.ACTIVATED
    quick = [h.time for h in run()[1].requests("image_block")]
    assert all(b - a < 1.0 for a, b in itertools.pairwise(quick))


@pytest.mark.parametrize(
    ("knob", "field"),
    [("block_manufacturer_id", "manufacturer_code"), ("block_image_type", "image_type")],
)
def test_wrong_ids_in_block_requests_get_no_image(knob, field):
    report, server, _ = run(**{knob: 0x9999})
    (request,) = server.requests("image_block")
    assert getattr(request.frame.command, field) == 0x9999
    assert server.requests("query_next_image")[0].frame.command.manufacturer_code == MFG
    assert report.outcome is OutcomeKind.FAILED
    assert report.reason.startswith("NO_IMAGE_AVAILABLE")


def test_duplicate_requests_sends_each_request_twice():
    report, server, _ = run(duplicate_requests=True)
    blocks = server.requests("image_block")
    assert [h.data for h in blocks[::2]] == [h.data for h in blocks[1::2]]
    assert len(blocks) == 2 * len(range(0, len(IMAGE), BLOCK))
    assert report.outcome is OutcomeKind.ACTIVATED


def test_page_requests_are_the_existing_knob():
    report, server, _ = run(use_page_requests=True, page_size=256)
    assert [h.frame.command.file_offset for h in server.requests("image_page")][:2] == [0, 256]
    assert report.outcome is OutcomeKind.ACTIVATED


_NAMES = [f.name for f in dataclasses.fields(ClientPolicy)]
MISBEHAVIOURS = _NAMES[_NAMES.index("claimed_max_data_size") :]
"""The misbehaviour knobs: every ClientPolicy field from `claimed_max_data_size` on."""


def test_every_misbehaviour_knob_has_a_test_here():
    source = Path(__file__).read_text()
    for name in MISBEHAVIOURS:
        assert f"{name}=" in source or f'"{name}"' in source, name


def test_defaults_behave_frame_for_frame():
    """With every misbehaviour at its default, the frames are those of a plain client."""
    defaults = {name: getattr(ClientPolicy(), name) for name in MISBEHAVIOURS}
    _, explicit, _ = run(**defaults)
    _, plain, _ = run()
    assert [h.data for h in explicit.heard] == [h.data for h in plain.heard]
    assert [h.time for h in explicit.heard] == [h.time for h in plain.heard]


@pytest.mark.parametrize(
    "knobs",
    [
        {"claimed_max_data_size": 256},
        {"upgrade_end_status": -1},
        {"stop_after_blocks": -1},
        {"block_image_type": 0x10000},
        {"request_delay_ms": -1},
    ],
)
def test_out_of_range_knobs_are_policy_errors(knobs):
    with pytest.raises(PolicyError, match=f"ClientPolicy.{next(iter(knobs))} must be"):
        ClientPolicy(**knobs)
