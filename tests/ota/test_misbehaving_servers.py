"""The server's misbehaviours (`ServerPolicy.misbehaviour`), frame by frame and against hanemu's
own client: what the server sends, and what a well-behaved client makes of it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from emulator.device.campaign import ActivationPlan
from emulator.ota import frames
from emulator.ota.client import OutcomeKind
from emulator.ota.frames import Status
from emulator.ota.image import build_image
from emulator.ota.policy import ServerFault, ServerPolicy
from emulator.ota.server import ENDLESS_WAIT_S, ImageStore, OtaServer
from emulator.scenario import ScenarioRun, one_device

MFG, TYPE, CLIENT = 0x1234, 0x0101, 0x4444
IMAGE = build_image(
    bytes(range(256)) * 2, manufacturer_id=MFG, image_type=TYPE, file_version=2, integrity=True
)


def _server(fault: str, **more) -> OtaServer:
    store = ImageStore()
    store.add(IMAGE)
    return OtaServer(store, ServerPolicy(misbehaviour=fault, **more))


def _request(offset: int, size: int = 50) -> bytes:
    return frames.encode(
        "image_block",
        9,
        field_control=0,
        manufacturer_code=MFG,
        image_type=TYPE,
        file_version=2,
        file_offset=offset,
        maximum_data_size=size,
    )


def _answers(server: OtaServer, offset: int = 100) -> list[frames.Frame]:
    return [frames.decode(s.data) for s in server.handle(_request(offset), CLIENT, 0.0)]


def test_wrong_size_serves_one_byte_more_than_asked():
    (answer,) = _answers(_server("wrong-size"))
    assert answer.command.image_data == IMAGE[100:151]


def test_corrupt_data_inverts_the_first_byte():
    (answer,) = _answers(_server("corrupt-data"))
    data = answer.command.image_data
    assert data[0] == IMAGE[100] ^ 0xFF and data[1:] == IMAGE[101:150]


def test_wrong_file_version_serves_under_the_next_version():
    (answer,) = _answers(_server("wrong-file-version"))
    assert answer.command.file_version == 3 and answer.command.image_data == IMAGE[100:150]


def test_endless_wait_answers_wait_for_data_while_it_misbehaves():
    server = _server("endless-wait", misbehave_count=3)
    for _ in range(3):
        (answer,) = _answers(server)
        assert answer.command.status == Status.WAIT_FOR_DATA
        assert answer.command.request_time == ENDLESS_WAIT_S
    (answer,) = _answers(server)
    assert answer.command.status == Status.SUCCESS


def test_duplicate_sends_every_answer_twice():
    first, second = _server("duplicate").handle(_request(100), CLIENT, 0.0)
    assert first == second and frames.decode(first.data).command.file_offset == 100
    page = frames.encode(
        "image_page",
        9,
        field_control=0,
        manufacturer_code=MFG,
        image_type=TYPE,
        file_version=2,
        file_offset=0,
        maximum_data_size=50,
        page_size=100,
        response_spacing=0,
    )
    offsets = [
        frames.decode(s.data).command.file_offset
        for s in _server("duplicate").handle(page, CLIENT, 0.0)
    ]
    assert offsets == [0, 0, 50, 50]


def _against_hanemus_client(policy: ServerPolicy):
    # The client asks for 40 octets, so that one more still fits a frame (56 would not: the
    # air refuses a 57-octet block, and the client only sees its request go unanswered).
    scenario = one_device(
        profile=None, image=IMAGE, plan=ActivationPlan(mode="none"), max_data_size=40
    )
    scenario = replace(scenario, server=policy, duration=3600.0)
    engine = ScenarioRun(scenario, None, None)
    (report,) = engine.run().devices
    return report, engine.hub.server


@pytest.mark.parametrize(
    ("fault", "outcome", "refused"),
    [
        # The client refuses a block larger than it asked for, or under another file version,
        # with Default Response INVALID_VALUE, and asks again: the next answer behaves.
        ("wrong-size", OutcomeKind.ACTIVATED, Status.INVALID_VALUE),
        ("wrong-file-version", OutcomeKind.ACTIVATED, Status.INVALID_VALUE),
        # A corrupted byte is stored; the Image Integrity Code catches it.
        ("corrupt-data", OutcomeKind.REJECTED, None),
        ("endless-wait", OutcomeKind.ACTIVATED, None),
        ("duplicate", OutcomeKind.ACTIVATED, None),
    ],
)
def test_hanemus_client_against_each_misbehaviour(fault, outcome, refused):
    policy = ServerPolicy(misbehaviour=fault, misbehave_from_offset=100, misbehave_count=1)
    report, server = _against_hanemus_client(policy)
    assert report.outcome is outcome
    statuses = [status for _src, _cmd, status in server.default_responses]
    assert (refused in statuses) if refused is not None else Status.INVALID_VALUE not in statuses
    if fault == "corrupt-data":
        assert "INVALID_IMAGE" in report.reason


def test_every_server_fault_is_tested_here():
    source = Path(__file__).read_text()
    for fault in ServerFault:
        if fault.value not in ("none", "stall", "abort", "wrong-offset"):  # tests/ota/test_server
            assert f'"{fault.value}"' in source, fault
