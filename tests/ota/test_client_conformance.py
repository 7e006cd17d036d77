"""Conformance rows T09-T40 (shared/spec/conformance.md), one test each, on the real client and
server objects with real ZCL bytes."""

from __future__ import annotations

import itertools

import pytest
from ota_harness import (
    MFG,
    OTHER_NODE,
    TYPE,
    ClientHarness,
    default_responses,
    make_image,
    running_image,
)
from simulation import Simulation

from emulator.device.emulated import PowerCut
from emulator.ota import client as oc
from emulator.ota import frames
from emulator.ota.client import IMAGE_UPGRADE_STATUS, ClientIdentity, State
from emulator.ota.frames import NO_UPGRADE_TIME, Status
from emulator.ota.link import LinkPolicy
from emulator.ota.policy import ClientPolicy, ServerPolicy
from emulator.ota.server import ImageStore, OtaServer

IMAGE = make_image(bytes(range(256)) * 8, version=2)
IDENT = ClientIdentity(MFG, TYPE)


def _idle_query() -> ClientHarness:
    """A client in QUERY_NEXT_IMAGE that has been told there is no image (not awaiting)."""
    h = ClientHarness()
    h.to_query()
    h.server_says("query_next_image_response", status=Status.NO_IMAGE_AVAILABLE)
    return h


def _notify_bytes(payload: bytes, *, ddr: bool = True) -> bytes:
    good = frames.encode(
        "image_notify", 7, disable_default_response=ddr, payload_type=0, query_jitter=100
    )
    return good[:3] + payload


def _queries(actions) -> int:
    return sum(
        1
        for a in actions
        if isinstance(a, frames.Send) and frames.decode(a.data).name == "query_next_image"
    )


def _sim(**kw) -> Simulation:
    kw.setdefault("running_image", running_image(1))
    kw.setdefault("images", [IMAGE])
    kw.setdefault("identity", IDENT)
    return Simulation(**kw)


# -- Image Notify -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        bytes([0, 0]),  # jitter 0
        bytes([0, 101]),  # jitter 101
        bytes([4, 100]) + bytes(8),  # reserved payload type 4
        bytes([0, 100, 0x34, 0x12]),  # type 0 with 4 bytes: wrong length
        bytes([3, 100, 0x34, 0x12]),  # type 3 cut short
    ],
)
def test_t09_broadcast_notify_bad_jitter_type_or_length_is_silently_ignored(payload):
    h = _idle_query()
    actions = h.raw(_notify_bytes(payload), broadcast=True)
    assert [a for a in actions if isinstance(a, frames.Send)] == []
    # The same notify with a valid jitter does get a query: the test can fail.
    assert _queries(h.raw(_notify_bytes(bytes([0, 100])), broadcast=True)) == 1


@pytest.mark.parametrize(
    ("payload_type", "fields"),
    [
        (1, {"manufacturer_code": MFG + 1}),
        (2, {"manufacturer_code": MFG, "image_type": TYPE + 1}),
    ],
)
def test_t10_broadcast_notify_for_foreign_manufacturer_or_type_is_ignored(payload_type, fields):
    h = _idle_query()
    actions = h.server_says(
        "image_notify",
        broadcast=True,
        ddr=True,
        payload_type=payload_type,
        query_jitter=100,
        **fields,
    )
    assert actions == []
    own = {"manufacturer_code": MFG, "image_type": TYPE}
    own = {k: own[k] for k in fields}
    assert (
        _queries(
            h.server_says(
                "image_notify",
                broadcast=True,
                ddr=True,
                payload_type=payload_type,
                query_jitter=100,
                **own,
            )
        )
        == 1
    )


def test_t11_broadcast_notify_with_the_running_version_is_ignored():
    h = _idle_query()
    common = {"payload_type": 3, "query_jitter": 100, "manufacturer_code": MFG, "image_type": TYPE}
    assert (
        h.server_says("image_notify", broadcast=True, ddr=True, new_file_version=1, **common) == []
    )
    assert (
        _queries(
            h.server_says("image_notify", broadcast=True, ddr=True, new_file_version=2, **common)
        )
        == 1
    )


def test_t12_unicast_notify_with_foreign_ids_still_gets_a_query_and_default_response():
    h = _idle_query()
    actions = h.server_says(
        "image_notify",
        ddr=False,
        payload_type=3,
        query_jitter=100,
        manufacturer_code=MFG + 9,
        image_type=TYPE + 9,
        new_file_version=1,
    )
    sent = h.sent_since(actions)
    assert default_responses(sent) == [(0x00, Status.SUCCESS)]
    assert [f.name for f in sent][-1] == "query_next_image"
    assert sent[-1].command.current_file_version == 1


def test_t13_broadcast_notify_jitter_sets_the_response_rate():
    h = _idle_query()
    runs = 10_000
    answered = sum(
        _queries(
            h.server_says("image_notify", broadcast=True, ddr=True, payload_type=0, query_jitter=30)
        )
        for _ in range(runs)
    )
    assert abs(answered / runs - 0.30) < 0.02


# -- Query Next Image ---------------------------------------------------------------------------


@pytest.mark.parametrize("hardware_version", [None, 0x0102])
def test_t14_query_carries_own_ids_current_version_and_hw_iff_configured(hardware_version):
    h = ClientHarness(ClientPolicy(hardware_version=hardware_version), current_version=0x01020304)
    q = h.to_query().command
    assert (q.manufacturer_code, q.image_type, q.current_file_version) == (MFG, TYPE, 0x01020304)
    assert int(q.field_control) & 1 == (hardware_version is not None)
    assert q.hardware_version == hardware_version
    assert h.last.payload_length == (11 if hardware_version is not None else 9)


@pytest.mark.parametrize(
    "over", [{"manufacturer_code": MFG + 1}, {"image_type": TYPE + 1}, {"image_size": 0}]
)
def test_t15_offer_with_foreign_ids_or_size_zero_is_refused_and_counts_as_query_error(over):
    h = ClientHarness()
    h.to_query()
    for attempt in range(10):
        actions = h.offer(IMAGE, **over)
        sent = h.sent_since(actions)
        assert (2, Status.INVALID_FIELD) in default_responses(sent)
        assert not any(f.name in ("image_block", "image_page") for f in sent)
        if attempt < 9:
            assert h.client.state is State.QUERY_NEXT_IMAGE
            h.fire()  # query again after the query delay
    # The tenth query error sends the client looking for a server again.
    assert h.client.state is State.DISCOVER_SERVER


def test_t16_offer_of_the_running_version_is_not_downloaded():
    h = ClientHarness(current_version=2)
    h.to_query()
    actions = h.offer(IMAGE, version=2)
    assert h.client.state is State.QUERY_NEXT_IMAGE
    assert h.sent_since(actions) == []
    assert h.timer_delay == ClientPolicy().query_interval_s


def test_t17_image_larger_than_storage_gets_insufficient_space():
    h = ClientHarness(ClientPolicy(storage_size=1000))
    h.to_query()
    sent = h.sent_since(h.offer(IMAGE, image_size=1001))
    assert default_responses(sent) == [(2, Status.INSUFFICIENT_SPACE)]
    assert h.client.state is State.QUERY_NEXT_IMAGE
    h.fire()  # queries again after the query delay
    assert h.sent_since(h.offer(IMAGE, image_size=1000))[-1].name == "image_block"


def test_t18_ten_unanswered_queries_start_server_rediscovery():
    h = ClientHarness()
    h.to_query()
    queries = 1
    while h.client.state is State.QUERY_NEXT_IMAGE:
        actions = h.fire()
        queries += _queries(actions)
    assert queries == 10
    assert h.client.state is State.DISCOVER_SERVER
    assert any(isinstance(a, oc.DiscoverServer) for a in actions)
    assert h.client.upgrade_server_id == oc.UNKNOWN_EUI64


# -- Image Block transfer ------------------------------------------------------------------------


@pytest.mark.parametrize(("addr", "period"), [(False, False), (False, True), (True, True)])
def test_t19_block_request_uses_file_offset_max_size_and_consistent_field_control(addr, period):
    policy = ClientPolicy(max_data_size=40, send_node_address=addr, send_min_block_period=period)
    h = ClientHarness(policy)
    h.to_download(IMAGE)
    h.block(IMAGE, size=40)
    req = h.last
    assert req.name == "image_block"
    cmd = req.command
    assert cmd.file_offset == h.client.file_offset == 40
    assert cmd.maximum_data_size == 40
    fc = int(cmd.field_control)
    assert fc == (1 if addr else 0) | (2 if period else 0)
    assert req.payload_length == 14 + (8 if addr else 0) + (2 if period else 0)
    assert (cmd.request_node_addr is not None) == addr
    assert (cmd.minimum_block_period is not None) == period


def test_t20_block_with_another_offset_is_discarded_and_same_offset_asked_again():
    h = ClientHarness()
    h.to_download(IMAGE)
    h.block(IMAGE, size=50)
    assert h.client.file_offset == 50
    writes_before = sum(isinstance(a, oc.WriteSlot) for a in h.actions)
    actions = h.block(IMAGE, offset=0, size=50)  # a stale block
    assert not any(isinstance(a, oc.WriteSlot) for a in actions)
    assert h.sent_since(actions) == []
    assert h.client.file_offset == 50
    h.fire()  # the pending tick re-requests without counting an error
    assert h.last.name == "image_block" and h.last.command.file_offset == 50
    assert h.client._errors == 0
    assert sum(isinstance(a, oc.WriteSlot) for a in h.actions) == writes_before


@pytest.mark.parametrize(
    "over",
    [
        {"manufacturer_code": MFG + 1},
        {"image_type": TYPE + 1},
        {"file_version": 3},
        {"image_data": bytes(64)},  # more than MaximumDataSize 63
    ],
)
def test_t21_block_with_wrong_ids_or_oversize_data_is_dropped_with_invalid_value(over):
    h = ClientHarness()
    h.to_download(IMAGE)
    actions = h.block(IMAGE, **over)
    assert default_responses(h.sent_since(actions)) == [(5, Status.INVALID_VALUE)]
    assert not any(isinstance(a, oc.WriteSlot) for a in actions)
    assert h.client.file_offset == 0


def test_t22_block_whose_data_size_exceeds_the_bytes_present_is_malformed():
    h = ClientHarness()
    h.to_download(IMAGE)
    good = frames.encode(
        "image_block_response",
        h.last.tsn,
        status=Status.SUCCESS,
        manufacturer_code=MFG,
        image_type=TYPE,
        file_version=2,
        file_offset=0,
        image_data=IMAGE[:20],
    )
    actions = h.raw(good[:-5])  # DataSize says 20, 15 bytes follow
    assert default_responses(h.sent_since(actions)) == [(5, Status.MALFORMED_COMMAND)]
    assert h.client.file_offset == 0


def test_t23_wait_for_data_relative():
    h = ClientHarness()
    h.to_download(IMAGE)
    h.server_says(
        "image_block_response",
        status=Status.WAIT_FOR_DATA,
        current_time=0,
        request_time=120,
        minimum_block_period=0,
    )
    assert h.timer_delay >= 120
    sent_before = len(h.sent)
    h.fire()
    assert len(h.sent) == sent_before + 1 and h.last.name == "image_block"
    assert h.now >= 120


def test_t23_wait_for_data_relative_from_the_real_server():
    sim = _sim(server_policy=ServerPolicy(wait_for_data_s=120), seed=1)
    result = sim.run()
    assert result.outcome == "activated"
    start = next(e["t"] for e in result.events if e.get("to") == "download")
    end = next(e["t"] for e in result.events if e.get("to") == "verify-image")
    assert end - start >= 120


@pytest.mark.parametrize(("revision", "unit_s"), [(3, 0.001), (2, 1.0)])
def test_t24_wait_for_data_utc_form_with_minimum_block_period(revision, unit_s):
    h = ClientHarness(ClientPolicy(cluster_revision=revision))
    h.to_download(IMAGE)
    h.server_says(
        "image_block_response",
        status=Status.WAIT_FOR_DATA,
        current_time=1000,
        request_time=1030,
        minimum_block_period=500,
    )
    assert h.client.minimum_block_period == 500
    assert h.client.attributes()["minimum_block_req_delay"] == 500
    assert h.timer_delay == pytest.approx(30 + 500 * unit_s)
    h.fire()
    assert h.last.command.minimum_block_period == 500
    h.block(IMAGE)
    assert h.timer_delay == pytest.approx(500 * unit_s)  # later blocks spaced by the period
    t0 = h.now
    h.fire()
    assert h.now - t0 >= 500 * unit_s and h.last.command.file_offset == 50


def test_t25_wait_for_data_with_request_time_before_current_time_backs_off_5_minutes():
    h = ClientHarness()
    h.to_download(IMAGE)
    h.server_says(
        "image_block_response",
        status=Status.WAIT_FOR_DATA,
        current_time=5000,
        request_time=4000,
        minimum_block_period=0,
    )
    assert h.timer_delay == 300


@pytest.mark.parametrize("how", ["abort", "default-response"])
def test_t26_server_abort_abandons_download_without_upgrade_end(how):
    h = ClientHarness()
    h.to_download(IMAGE)
    h.block(IMAGE)
    assert h.client.image_upgrade_status == 1 and h.client.image_type_id == TYPE
    if how == "abort":
        actions = h.server_says("image_block_response", status=Status.ABORT)
    else:
        data = frames.encode_default_response(h.last.tsn, 3, Status.NO_IMAGE_AVAILABLE, frames.S2C)
        actions = h.raw(data)
    assert not any(f.name == "upgrade_end" for f in h.sent_since(actions))
    assert h.client.state is State.QUERY_NEXT_IMAGE
    assert h.client.image_upgrade_status == 0
    assert h.client.image_type_id == 0xFFFF
    assert oc.CommitRecord(None) in actions


def test_t27_ten_block_timeouts_abort_with_upgrade_end_abort():
    sim = _sim(server_policy=ServerPolicy(misbehaviour="stall", misbehave_from_offset=100), seed=2)
    result = sim.run()
    assert result.outcome == "failed"
    assert [(u.status, u.file_version) for u in sim.server.upgrade_ends] == [(Status.ABORT, 2)]
    assert result.retries == 9  # ten requests for the stalled offset, then ABORT
    assert result.running_image == running_image(1)


def test_t28_page_request_answered_unsupported_falls_back_to_block_requests():
    h = ClientHarness(ClientPolicy(use_page_requests=True, page_size=256))
    first = h.to_download(IMAGE)
    assert first.name == "image_page"
    data = frames.encode_default_response(first.tsn, 4, Status.UNSUP_CLUSTER_COMMAND, frames.S2C)
    h.raw(data)
    assert h.last.name == "image_block" and h.last.command.file_offset == 0
    # Some servers say it with an Image Block Response status instead.
    h2 = ClientHarness(ClientPolicy(use_page_requests=True, page_size=256))
    h2.to_download(IMAGE)
    h2.server_says("image_block_response", status=Status.UNSUP_CLUSTER_COMMAND)
    assert h2.last.name == "image_block" and h2.client.state is State.DOWNLOAD
    # And end to end against a real server without page support:
    sim = _sim(
        client_policy=ClientPolicy(use_page_requests=True),
        server_policy=ServerPolicy(support_page_requests=False),
        seed=3,
    )
    result = sim.run()
    assert result.outcome == "activated" and result.running_image == IMAGE
    assert (4, Status.UNSUP_CLUSTER_COMMAND) not in sim.server.default_responses


def test_t28_page_requests_served_by_a_real_server():
    sim = _sim(client_policy=ClientPolicy(use_page_requests=True, page_size=300), seed=4)
    result = sim.run()
    assert result.outcome == "activated" and result.running_image == IMAGE


def test_t29_reboot_at_40_percent_resumes_at_stored_offset():
    sim = _sim(power_cuts=[PowerCut(at_fraction=0.4)], seed=5)
    result = sim.run()
    assert result.outcome == "activated" and result.running_image == IMAGE
    assert result.power_losses == 1
    (resumed,) = result.resumed_from
    assert 0.4 * len(IMAGE) - 63 <= resumed < 0.4 * len(IMAGE) + 63
    resume = [e for e in result.events if e.get("from") == "get-server-eui"]
    assert resume[-1]["to"] == "download" and resume[-1]["file_offset"] == resumed
    assert resume[-1]["downloaded_file_version"] == 2
    assert result.bytes < len(IMAGE) + 2 * 63  # nothing fetched twice but one block


def test_t30_attribute_life_cycle():
    h = ClientHarness()
    assert h.client.attributes()["downloaded_file_version"] == 0xFFFFFFFF
    h.to_query()
    assert h.client.image_upgrade_status == 0
    h.offer(IMAGE)
    a = h.client.attributes()
    assert (a["image_upgrade_status"], a["downloaded_file_version"], a["file_offset"]) == (1, 2, 0)
    h.block(IMAGE, size=37)
    assert h.client.file_offset == 37
    h.block(IMAGE, size=11)
    assert h.client.file_offset == 48
    h.download_all(IMAGE)
    assert h.client.image_upgrade_status == 2
    h.fire()
    assert h.client.image_upgrade_status == 3
    h.upgrade_end_response(0, 600)
    assert h.client.image_upgrade_status == 4
    # Through the real server, every status appears in order.
    seen = [0]
    sim = _sim(server_policy=ServerPolicy(upgrade_time="delay", upgrade_delay_s=60), seed=6)
    sim.on_device.append(
        lambda d: d.on_state.append(lambda s: seen.append(IMAGE_UPGRADE_STATUS[s]))
    )
    assert sim.run().outcome == "activated"
    assert [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]][:5] == [0, 1, 2, 3, 4]


def test_t31_corrupted_image_is_refused_with_invalid_image_and_not_applied():
    bad = bytearray(IMAGE)
    bad[len(bad) // 2] ^= 0x01
    sim = _sim(images=[bytes(bad)], seed=7)
    result = sim.run()
    assert result.outcome == "rejected"
    assert result.reason == "INVALID_IMAGE: integrity code: integrity code mismatch"
    assert [u.status for u in sim.server.upgrade_ends] == [Status.INVALID_IMAGE]
    assert result.running_image == running_image(1)
    assert result.final_file_version == 1
    assert sim.flash.record is None  # the bad download is not kept for reuse


# -- Upgrade End --------------------------------------------------------------------------------


def test_t32_upgrade_now_applies_after_the_3_second_grace():
    h = ClientHarness()
    h.to_waiting(IMAGE)
    h.upgrade_end_response(0, 0)
    assert h.client.state is State.COUNTDOWN_TO_UPGRADE
    assert h.timer_delay == 3
    assert h.fire() == [oc.Activate(2)]


@pytest.mark.parametrize(
    ("mode", "delay", "expected"),
    [
        ("emberznet", 600, 600),
        ("strict", 600, 600),
        ("emberznet", 10800, 3600),
        ("strict", 10800, 10800),
    ],
)
def test_t33_upgrade_time_countdown_strict_or_emberznet_clamp(mode, delay, expected):
    h = ClientHarness(ClientPolicy(countdown_mode=mode))
    h.to_waiting(IMAGE)
    h.upgrade_end_response(50_000, 50_000 + delay)
    assert h.client.image_upgrade_status == 4
    assert h.timer_delay == expected
    assert h.fire() == [oc.Activate(2)]


def test_t34_upgrade_time_wait_then_unsolicited_upgrade_now():
    h = ClientHarness()
    h.to_waiting(IMAGE)
    h.upgrade_end_response(0, NO_UPGRADE_TIME)
    assert h.client.image_upgrade_status == 3
    assert h.timer_delay >= 3600
    h.fire()
    assert h.last.name == "upgrade_end"  # re-asks, hourly
    h.upgrade_end_response(0, NO_UPGRADE_TIME)
    assert h.timer_delay >= 3600
    h.upgrade_end_response(0, 0, tsn=99)  # unsolicited "upgrade now"
    assert h.fire() == [oc.Activate(2)]
    # Against the real server: asks no more than hourly, applies after the release.
    sim = _sim(server_policy=ServerPolicy(upgrade_time="wait", release_after_s=3 * 3600), seed=8)
    result = sim.run()
    assert result.outcome == "activated"
    asks = [u.time for u in sim.server.upgrade_ends]
    assert len(asks) == 3 and all(b - a >= 3600 for a, b in itertools.pairwise(asks))
    activated = next(e["t"] for e in result.events if e["event"] == "activated")
    assert activated >= asks[0] + 3 * 3600


def test_t35_out_of_band_policy_refuses_server_activation():
    h = ClientHarness(ClientPolicy(activation_policy="out-of-band"))
    h.to_waiting(IMAGE)
    actions = h.upgrade_end_response(0, 0)
    assert default_responses(h.sent_since(actions)) == [(7, Status.NOT_AUTHORIZED)]
    assert h.client.image_upgrade_status == 6
    assert not any(isinstance(a, oc.Activate) for a in h.actions)
    h.feed(oc.OutOfBandActivate())
    assert h.fire() == [oc.Activate(2)]


@pytest.mark.parametrize(("policy", "applies"), [("apply", True), ("do-not-apply", False)])
def test_t36_silent_server_after_upgrade_end_applies_iff_timeout_policy_allows(policy, applies):
    h = ClientHarness(ClientPolicy(timeout_policy=policy))
    h.to_waiting(IMAGE)
    requests = 1
    for _ in range(9):
        h.fire()
        requests += h.last.name == "upgrade_end"
    assert requests == 10 and h.client.state is State.WAITING_FOR_UPGRADE_MESSAGE
    h.fire()  # the tenth missed response
    assert (h.client.state is State.COUNTDOWN_TO_UPGRADE) == applies
    if applies:
        assert h.fire() == [oc.Activate(2)]
    else:
        assert not any(isinstance(a, oc.Activate) for a in h.actions)


def test_t37_wildcard_upgrade_end_response_is_accepted():
    h = ClientHarness()
    h.to_waiting(IMAGE)
    h.upgrade_end_response(
        0, 0, manufacturer_code=0xFFFF, image_type=0xFFFF, file_version=0xFFFFFFFF
    )
    assert h.client.state is State.COUNTDOWN_TO_UPGRADE
    h2 = ClientHarness()
    h2.to_waiting(IMAGE)
    actions = h2.upgrade_end_response(0, 0, manufacturer_code=MFG + 1)
    assert default_responses(h2.sent_since(actions)) == [(7, Status.INVALID_VALUE)]
    assert h2.client.state is State.WAITING_FOR_UPGRADE_MESSAGE


def test_t38_commands_from_another_node_get_not_authorized():
    h = ClientHarness()
    h.to_download(IMAGE)
    actions = h.block(IMAGE)  # sanity: the server's block is taken
    assert h.client.file_offset == 50
    stranger = frames.encode(
        "image_block_response",
        h.last.tsn,
        status=Status.SUCCESS,
        manufacturer_code=MFG,
        image_type=TYPE,
        file_version=2,
        file_offset=50,
        image_data=IMAGE[50:100],
    )
    actions = h.raw(stranger, src=OTHER_NODE)
    assert default_responses(h.sent_since(actions)) == [(5, Status.NOT_AUTHORIZED)]
    assert all(a.dst == OTHER_NODE for a in actions if isinstance(a, frames.Send))
    assert h.client.file_offset == 50
    # Image Notify is excepted: no NOT_AUTHORIZED (ignored during a download with FAILURE).
    notify = frames.encode(
        "image_notify", 3, disable_default_response=False, payload_type=0, query_jitter=100
    )
    sent = h.sent_since(h.raw(notify, src=OTHER_NODE))
    assert (0, Status.NOT_AUTHORIZED) not in default_responses(sent)


def test_t39_downgrade_offered_with_downgrades_disabled():
    older = make_image(version=1)
    sim = _sim(
        running_image=running_image(5),
        images=[older],
        server_policy=ServerPolicy(version_policy="downgrade"),
        seed=9,
    )
    result = sim.run()
    assert result.outcome == "rejected" and result.bytes == 0
    assert [(u.status, u.file_version) for u in sim.server.upgrade_ends] == [
        (Status.INVALID_IMAGE, 1)
    ]
    allowed = _sim(
        running_image=running_image(5),
        images=[older],
        client_policy=ClientPolicy(allow_downgrade=True),
        server_policy=ServerPolicy(version_policy="downgrade"),
        seed=9,
    ).run()
    assert allowed.outcome == "activated" and allowed.final_file_version == 1


def test_t40_hardware_version_outside_the_file_range():
    ranged = make_image(version=2, min_hw=0x0200, max_hw=0x02FF)
    store = ImageStore()
    store.add(ranged)
    server = OtaServer(store)
    for hw, status in ((0x0100, Status.NO_IMAGE_AVAILABLE), (0x0210, Status.SUCCESS)):
        query = frames.encode(
            "query_next_image",
            1,
            field_control=1,
            manufacturer_code=MFG,
            image_type=TYPE,
            current_file_version=1,
            hardware_version=hw,
        )
        (reply,) = server.handle(query, 0x1111, 0.0)
        assert frames.decode(reply.data).command.status == status
    # Client side (GB policy): a server that does not check still gets the file refused.
    sim = _sim(
        images=[ranged],
        client_policy=ClientPolicy(hardware_version=0x0100),
        server_policy=ServerPolicy(check_hardware_range=False),
        seed=10,
    )
    result = sim.run()
    assert result.outcome == "rejected"
    assert result.reason == "INVALID_IMAGE: hardware version 0x0100 outside 0x0200..0x02FF"
    assert result.running_image == running_image(1)


def test_simulation_replays_exactly_by_seed():
    a = _sim(seed=11, link=LinkPolicy(drop=0.1, duplicate=0.05, reorder=0.1)).run()
    b = _sim(seed=11, link=LinkPolicy(drop=0.1, duplicate=0.05, reorder=0.1)).run()
    c = _sim(seed=12, link=LinkPolicy(drop=0.1, duplicate=0.05, reorder=0.1)).run()
    assert a.events == b.events and a.virtual_seconds == b.virtual_seconds
    assert a.virtual_seconds != c.virtual_seconds


def test_gb_verification_hook_checks_the_supplier_signature():
    from emulator.ota.client import verifier_for
    from emulator.ota.image import build_gb_image
    from emulator.testpki import derive_key

    supplier, rogue = derive_key("supplier-a"), derive_key("rogue")
    gb = build_gb_image(
        bytes(range(256)) * 3,
        manufacturer_id=MFG,
        image_type=TYPE,
        file_version=2,
        min_hw=0,
        max_hw=0xFFFF,
        supplier_key=supplier,
    )
    good = _sim(
        images=[gb], verifier=verifier_for(supplier_public_key=supplier.public_key()), seed=13
    ).run()
    assert good.outcome == "activated" and good.running_image == gb
    bad = _sim(
        images=[gb], verifier=verifier_for(supplier_public_key=rogue.public_key()), seed=13
    ).run()
    assert bad.outcome == "rejected" and bad.reason.startswith("INVALID_IMAGE: ")
    assert "signature" in bad.reason and bad.running_image == running_image(1)


def test_a_status_with_no_name_is_named_in_hex():
    h = ClientHarness()
    h.to_waiting(IMAGE)
    h.raw(frames.encode_default_response(h.last.tsn, 0x06, 0x20, frames.S2C))
    assert h.client.state is State.QUERY_NEXT_IMAGE
    assert h.client.last_reason == "0x20: upgrade refused by server"
