"""The OTA server (a Comms Hub) on its own: real ZCL requests in, real ZCL answers out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ota_harness import MFG, TYPE, make_image

from emulator.errors import PolicyError
from emulator.ota import frames
from emulator.ota.frames import NO_UPGRADE_TIME, Status
from emulator.ota.policy import ServerPolicy
from emulator.ota.server import ImageStore, OtaServer

V2 = make_image(bytes(range(256)) * 4, version=2)
V3 = make_image(bytes(range(200)), version=3)
CLIENT = 0x1111


def _store(*images: bytes) -> ImageStore:
    store = ImageStore()
    for image in images:
        store.add(image)
    return store


def _one(server: OtaServer, data: bytes, now: float = 0.0, src: int = CLIENT):
    (reply,) = server.handle(data, src, now)
    assert reply.dst == src
    return frames.decode(reply.data)


def _query(current: int, hw: int | None = None, tsn: int = 5) -> bytes:
    return frames.encode(
        "query_next_image",
        tsn,
        field_control=0 if hw is None else 1,
        manufacturer_code=MFG,
        image_type=TYPE,
        current_file_version=current,
        hardware_version=hw,
    )


def _block(
    offset: int, *, version: int = 2, size: int = 63, period: int | None = None, tsn: int = 6
) -> bytes:
    return frames.encode(
        "image_block",
        tsn,
        field_control=0 if period is None else 2,
        manufacturer_code=MFG,
        image_type=TYPE,
        file_version=version,
        file_offset=offset,
        maximum_data_size=size,
        minimum_block_period=period,
    )


@pytest.mark.parametrize(
    ("policy", "current", "offered"),
    [
        ("upgrade", 1, 3),
        ("upgrade", 3, None),
        ("downgrade", 3, 2),
        ("reinstall", 2, 2),
        ("any", 2, 3),
        ("none", 1, None),
    ],
)
def test_query_next_image_follows_the_version_policy(policy, current, offered):
    server = OtaServer(_store(V2, V3), ServerPolicy(version_policy=policy))
    reply = _one(server, _query(current))
    assert reply.name == "query_next_image_response" and reply.tsn == 5
    if offered is None:
        assert reply.command.status == Status.NO_IMAGE_AVAILABLE
        assert reply.payload_length == 1
    else:
        size = len(V2 if offered == 2 else V3)
        c = reply.command
        assert (c.status, c.file_version, c.image_size) == (Status.SUCCESS, offered, size)
        assert reply.disable_default_response


def test_blocks_are_capped_and_served_from_one_shared_copy():
    store = _store(V2)
    a = OtaServer(store, ServerPolicy(block_size_cap=40))
    b = OtaServer(store, ServerPolicy(block_size_cap=56))
    ra, rb = _one(a, _block(100)), _one(b, _block(100))
    assert ra.command.image_data == V2[100:140] and rb.command.image_data == V2[100:156]
    assert a.store.get(MFG, TYPE, 2).data is b.store.get(MFG, TYPE, 2).data
    assert _one(a, _block(100, size=20)).command.image_data == V2[100:120]
    dr = _one(a, _block(0, version=9))
    assert (dr.name, dr.command.status) == (frames.DEFAULT_RESPONSE, Status.NO_IMAGE_AVAILABLE)


@pytest.mark.parametrize("utc", [False, True])
def test_wait_for_data_first_block_then_minimum_block_period(utc):
    policy = ServerPolicy(wait_for_data_s=30, min_block_period=250, use_utc=utc)
    server = OtaServer(_store(V2), policy)
    wait = _one(server, _block(0, period=0), now=10.0).command
    assert wait.status == Status.WAIT_FOR_DATA
    assert wait.request_time - wait.current_time == 30
    assert wait.current_time == (policy.utc_epoch_offset + 10 if utc else 0)
    assert wait.minimum_block_period == 250
    # The client still says period 0: told the server's value again, with no extra delay.
    again = _one(server, _block(0, period=0), now=40.0).command
    assert (again.status, again.request_time - again.current_time) == (Status.WAIT_FOR_DATA, 0)
    assert _one(server, _block(0, period=250), now=40.3).command.status == Status.SUCCESS
    too_soon = _one(server, _block(50, period=250), now=40.4).command
    assert too_soon.status == Status.WAIT_FOR_DATA
    assert _one(server, _block(50, period=250), now=40.55).command.status == Status.SUCCESS


def test_image_page_is_a_train_of_spaced_block_responses():
    server = OtaServer(_store(V2), ServerPolicy(block_size_cap=50))
    page = frames.encode(
        "image_page",
        8,
        field_control=0,
        manufacturer_code=MFG,
        image_type=TYPE,
        file_version=2,
        file_offset=10,
        maximum_data_size=63,
        page_size=120,
        response_spacing=40,
    )
    replies = server.handle(page, CLIENT, 0.0)
    got = [frames.decode(r.data).command for r in replies]
    assert [c.file_offset for c in got] == [10, 60, 110]
    assert b"".join(c.image_data for c in got) == V2[10:130]
    assert [r.delay for r in replies] == pytest.approx([0.0, 0.04, 0.08])
    refusing = OtaServer(_store(V2), ServerPolicy(support_page_requests=False))
    dr = _one(refusing, page)
    assert (dr.command.command_id, dr.command.status) == (4, Status.UNSUP_CLUSTER_COMMAND)


@pytest.mark.parametrize(
    ("when", "delay", "upgrade_time"),
    [("now", 0, 0), ("delay", 120, 120), ("wait", 0, NO_UPGRADE_TIME)],
)
def test_upgrade_end_response_now_delay_or_wait(when, delay, upgrade_time):
    server = OtaServer(
        _store(V2), ServerPolicy(upgrade_time=when, upgrade_delay_s=delay, release_after_s=600)
    )
    end = frames.encode(
        "upgrade_end",
        9,
        status=Status.SUCCESS,
        manufacturer_code=MFG,
        image_type=TYPE,
        file_version=2,
    )
    replies = server.handle(end, CLIENT, 5.0)
    first = frames.decode(replies[0].data)
    assert first.name == "upgrade_end_response" and first.tsn == 9
    assert (first.command.current_time, first.command.upgrade_time) == (0, upgrade_time)
    if when == "wait":
        release = frames.decode(replies[1].data)
        assert replies[1].delay == 600 and release.tsn != 9
        assert (release.name, release.command.upgrade_time) == ("upgrade_end_response", 0)
    else:
        assert len(replies) == 1
    failed = frames.encode(
        "upgrade_end",
        10,
        status=Status.INVALID_IMAGE,
        manufacturer_code=MFG,
        image_type=TYPE,
        file_version=2,
    )
    dr = _one(server, failed)
    assert (dr.name, dr.command.status) == (frames.DEFAULT_RESPONSE, Status.SUCCESS)
    assert [u.status for u in server.upgrade_ends] == [Status.SUCCESS, Status.INVALID_IMAGE]


def test_query_device_specific_file():
    ieee = 0x00124B0001020304
    specific = make_image(b"config", version=7, image_type=0xFFC1, destination=ieee)
    server = OtaServer(_store(V2, specific))
    ask = frames.encode(
        "query_specific_file",
        3,
        request_node_addr=frames.eui64(ieee),
        manufacturer_code=MFG,
        image_type=0xFFC1,
        file_version=1,
        current_zigbee_stack_version=2,
    )
    reply = _one(server, ask).command
    assert (reply.status, reply.file_version, reply.image_size) == (
        Status.SUCCESS,
        7,
        len(specific),
    )
    other = frames.encode(
        "query_specific_file",
        3,
        request_node_addr=frames.eui64(ieee + 1),
        manufacturer_code=MFG,
        image_type=0xFFC1,
        file_version=1,
        current_zigbee_stack_version=2,
    )
    assert _one(server, other).command.status == Status.NO_IMAGE_AVAILABLE
    assert server.store.get(MFG, 0xFFC1, 7) is None  # never offered to everyone


@pytest.mark.parametrize("fault", ["stall", "abort", "wrong-offset"])
def test_misbehaviours_for_testing_clients(fault):
    server = OtaServer(
        _store(V2),
        ServerPolicy(
            misbehaviour=fault, misbehave_from_offset=50, misbehave_count=1, block_size_cap=50
        ),
    )
    assert _one(server, _block(0)).command.image_data == V2[:50]
    replies = server.handle(_block(50), CLIENT, 1.0)
    if fault == "stall":
        assert replies == []
    elif fault == "abort":
        assert frames.decode(replies[0].data).command.status == Status.ABORT
    else:
        assert frames.decode(replies[0].data).command.file_offset == 100
    assert _one(server, _block(50), 2.0).command.image_data == V2[50:100]  # count used up


def test_malformed_requests_get_a_default_response_and_broadcasts_nothing():
    server = OtaServer(_store(V2))
    short = _query(1)[:-2]
    dr = _one(server, short)
    assert (dr.command.command_id, dr.command.status) == (1, Status.MALFORMED_COMMAND)
    assert server.handle(short, CLIENT, 0.0, broadcast=True) == []
    unknown = _block(0, version=9)
    assert _one(server, unknown).name == frames.DEFAULT_RESPONSE
    assert server.handle(unknown, CLIENT, 0.0, broadcast=True) == []
    assert server.handle(b"\x01", CLIENT, 0.0) == []


def test_bad_server_policy_is_a_policy_error():
    with pytest.raises(PolicyError, match="block_size_cap"):
        ServerPolicy(block_size_cap=0)
    with pytest.raises(PolicyError, match="upgrade_time"):
        ServerPolicy(upgrade_time="later")


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=30), broadcast=st.booleans())
def test_any_bytes_get_an_answer_or_nothing_never_an_exception(data, broadcast):
    server = OtaServer(_store(V2), ServerPolicy(min_block_period=10, wait_for_data_s=1))
    for reply in server.handle(data, CLIENT, 1.0, broadcast=broadcast):
        frame = frames.decode(reply.data)
        assert frame.direction == frames.S2C and reply.dst == CLIENT
        assert not (broadcast and frame.name == frames.DEFAULT_RESPONSE)


@pytest.mark.parametrize(
    ("manufacturer_id", "image_type"), [(0xFFFF, TYPE), (MFG, 0xFFFF), (0xFFFF, 0xFFFF)]
)
def test_wildcard_file_is_offered_and_served_under_the_clients_ids(manufacturer_id, image_type):
    """Spec §3.1/§3.2: 0xFFFF in a file's Manufacturer Code or Image Type is a wildcard, so the
    file matches a query for any manufacturer or image type; the offer and the blocks name the
    client's own ids (the client refuses others: §2.3, T15, T21)."""
    anyone = make_image(
        bytes(300), version=4, manufacturer_id=manufacturer_id, image_type=image_type
    )
    server = OtaServer(_store(anyone, make_image(version=2, image_type=TYPE + 1)))
    offer = _one(server, _query(1)).command
    assert (offer.status, offer.manufacturer_code, offer.image_type, offer.file_version) == (
        Status.SUCCESS,
        MFG,
        TYPE,
        4,
    )
    assert offer.image_size == len(anyone)
    block = _one(server, _block(0, version=4, size=40)).command
    assert (block.manufacturer_code, block.image_type, block.image_data) == (MFG, TYPE, anyone[:40])


def test_an_exact_file_beats_a_wildcard_file_of_the_same_version():
    exact = make_image(b"exact" * 20, version=4)
    wild = make_image(b"wild" * 20, version=4, manufacturer_id=0xFFFF, image_type=0xFFFF)
    newer_wild = make_image(b"wild" * 20, version=5, manufacturer_id=0xFFFF, image_type=0xFFFF)
    for images in ((exact, wild), (wild, exact)):
        server = OtaServer(_store(*images))
        assert _one(server, _query(1)).command.image_size == len(exact)
        assert _one(server, _block(0, version=4, size=40)).command.image_data == exact[:40]
    server = OtaServer(_store(exact, newer_wild))
    assert _one(server, _query(1)).command.file_version == 5
