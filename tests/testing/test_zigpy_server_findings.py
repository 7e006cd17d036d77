"""What fuzzing zigpy's stock OTA server showed (docs/findings.md), one test per finding.

Each test runs one misbehaving client (a `ClientPolicy` knob) against zigpy's own
`update_firmware` on hanemu's zigpy air in virtual time, with real zigpy and nothing mocked, and
asserts what zigpy did on the air and what `update_firmware` returned. A test that fails here
means zigpy's behaviour changed: update docs/findings.md.
"""

from __future__ import annotations

from emulator.ota.client import OutcomeKind
from emulator.ota.frames import Status
from emulator.testing.strategies import INSTA, LEGRAND
from emulator.testing.zigpy_server import (
    FRAME_BUDGET,
    MFG,
    ZigpyRun,
    check_hanemu_side,
    observe,
    run_against_zigpy,
)


def _from_zigpy(run: ZigpyRun, name: str) -> list:
    return [f.frame.command for f in run.wire if f.from_zigpy and f.name == name]


def _from_device(run: ZigpyRun, name: str) -> list:
    return [f.frame.command for f in run.wire if not f.from_zigpy and f.name == name]


def _run(**knobs) -> ZigpyRun:
    run = run_against_zigpy(knobs)
    check_hanemu_side(run)  # whatever zigpy did, hanemu's device kept its own rules
    return run


def test_a_well_behaved_client_is_upgraded():
    run = _run()
    assert run.update.result == "SUCCESS"
    assert run.report.outcome is OutcomeKind.ACTIVATED
    assert [int(c.upgrade_time) for c in _from_zigpy(run, "upgrade_end_response")] == [0]
    sizes = {len(c.image_data) for c in _from_zigpy(run, "image_block_response")}
    assert max(sizes) == 50  # zigpy caps blocks at 50 octets for most manufacturers


def test_f1_an_upgrade_end_abort_is_answered_with_upgrade_now():
    run = _run(abort_after_blocks=2)
    assert [c.status for c in _from_device(run, "upgrade_end")] == [Status.ABORT]
    (answer,) = _from_zigpy(run, "upgrade_end_response")
    assert int(answer.upgrade_time) == 0 and int(answer.current_time) == 0
    assert _from_zigpy(run, "default_response") == []  # the spec's answer: Default Response
    assert run.update.result == "ABORT"


def test_f1_any_failed_status_is_answered_with_upgrade_now():
    run = _run(upgrade_end_status=int(Status.INVALID_IMAGE))
    assert [c.status for c in _from_device(run, "upgrade_end")] == [Status.INVALID_IMAGE]
    assert [int(c.upgrade_time) for c in _from_zigpy(run, "upgrade_end_response")] == [0]
    assert run.update.result == "INVALID_IMAGE"


def test_f2_an_early_upgrade_end_is_success_for_zigpy():
    run = _run(upgrade_end_after_blocks=0)
    assert _from_zigpy(run, "image_block_response")[0].status == Status.ABORT  # never a block
    assert [int(c.upgrade_time) for c in _from_zigpy(run, "upgrade_end_response")] == [0]
    assert run.update.result == "SUCCESS"
    assert run.report.outcome is OutcomeKind.FAILED  # the device never got the image
    assert (
        "zigpy: answered an Upgrade End Request SUCCESS before the image was complete with "
        "Upgrade End Response, UpgradeTime 0 (upgrade now)" in observe(run)
    )


def test_f3_blocks_are_served_whatever_ids_the_request_names():
    run = _run(block_manufacturer_id=0x9999, block_image_type=0x7777)
    requests = _from_device(run, "image_block")
    assert {(c.manufacturer_code, c.image_type) for c in requests} == {(0x9999, 0x7777)}
    served = _from_zigpy(run, "image_block_response")
    assert all(c.status == Status.SUCCESS and c.manufacturer_code == MFG for c in served)
    assert run.update.result == "SUCCESS"


def test_f4_the_block_size_follows_the_manufacturer_code_in_the_request():
    insta = _run(block_manufacturer_id=INSTA)
    assert {len(c.image_data) for c in _from_zigpy(insta, "image_block_response")} >= {40}
    assert max(len(c.image_data) for c in _from_zigpy(insta, "image_block_response")) == 40
    # Legrand's code lifts the cap: a block of MaximumDataSize octets, here more than one
    # 802.15.4 frame holds, so none arrives and zigpy times out.
    legrand = _run(block_manufacturer_id=LEGRAND, claimed_max_data_size=100)
    served = _from_zigpy(legrand, "image_block_response")
    assert all(c.status == Status.ABORT for c in served)  # only after zigpy gave up
    assert legrand.report.oversize_frames >= 1
    assert legrand.update.result == "TIMEOUT"


def test_f4_a_255_octet_block_is_refused_by_zigpys_own_codec():
    run = _run(block_manufacturer_id=LEGRAND, claimed_max_data_size=0xFF)
    served = _from_zigpy(run, "image_block_response")
    assert all(c.status == Status.ABORT for c in served)  # only after zigpy gave up
    assert run.report.oversize_frames == 0  # never reached the air: OctetString is too long
    assert run.update.result == "TIMEOUT"


def test_f5_maximum_data_size_0_gets_an_image_block_response_malformed_command():
    run = _run(claimed_max_data_size=0)
    first = _from_zigpy(run, "image_block_response")[0]
    assert first.status == Status.MALFORMED_COMMAND  # not a status Image Block Response has
    assert run.update.result == "MALFORMED_COMMAND"


def test_f6_a_page_request_with_maximum_data_size_0_makes_zigpy_send_without_end():
    run = _run(use_page_requests=True, claimed_max_data_size=0)
    assert run.over_budget
    empty = [c for c in _from_zigpy(run, "image_block_response") if not c.image_data]
    assert len(empty) >= FRAME_BUDGET - 100
    assert {c.file_offset for c in empty} == {0}
    assert run.update.result is None  # still sending when the run was stopped


def test_f7_a_cut_short_request_gets_no_default_response():
    run = _run(malformed_request_after_blocks=1)
    cut = [f for f in run.wire if not f.from_zigpy and f.frame is None and len(f.data) == 8]
    assert len(cut) == 1
    tsn = cut[0].data[1]
    assert [f for f in run.wire if f.from_zigpy and f.tsn == tsn] == []
    assert run.update.result == "SUCCESS"


def test_f8_thirty_seconds_between_requests_is_a_timeout():
    run = _run(request_delay_ms=31_000)
    assert run.update.result == "TIMEOUT"
    assert run.update.ended_at - run.update.started_at < 31.0
    # Its query, when it comes, is answered by zigpy's generic OTA handler: nothing on offer.
    (answer,) = _from_zigpy(run, "query_next_image_response")[:1]
    assert answer.status == Status.NO_IMAGE_AVAILABLE
    assert run.report.outcome is OutcomeKind.NO_IMAGE


def test_f9_no_upgrade_end_is_a_timeout_while_the_device_activates():
    run = _run(send_upgrade_end=False)
    assert _from_device(run, "upgrade_end") == []
    assert run.update.result == "TIMEOUT"
    assert run.report.outcome is OutcomeKind.ACTIVATED


def test_f10_after_its_upgrade_end_response_blocks_get_abort():
    run = _run(upgrade_end_after_blocks=3)
    (end,) = [f.time for f in run.wire if f.from_zigpy and f.name == "upgrade_end_response"][:1]
    late = [
        f.frame.command
        for f in run.wire
        if f.from_zigpy and f.name == "image_block_response" and f.time > end
    ]
    assert late and {c.status for c in late} == {Status.ABORT}
    assert run.update.result == "SUCCESS"
    assert run.report.outcome is OutcomeKind.FAILED
