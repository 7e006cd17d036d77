"""The OTA client compared with EmberZNet's ota-client.c (issue 10): each test is one behaviour
where the client had strayed from the spec digest (shared/spec/ota-cluster.md) or from EmberZNet,
on the real client and server objects with real ZCL bytes."""

from __future__ import annotations

import pytest
from ota_harness import (
    MFG,
    SERVER,
    SERVER_IEEE,
    ClientHarness,
    default_responses,
    make_image,
    running_image,
)
from ota_harness import TYPE as IMAGE_TYPE
from simulation import Simulation

from emulator.ota import client as oc
from emulator.ota import frames
from emulator.ota.client import ClientIdentity, State
from emulator.ota.frames import Status

IMAGE = make_image(bytes(range(256)) * 8, version=2)


def _wait_for_data(h: ClientHarness, *, request_time: int, period: int | None) -> list:
    """An Image Block Response WAIT_FOR_DATA (CurrentTime 0) in the 11-byte form, or in the
    9-byte form older servers send when `period` is None."""
    data = frames.encode(
        "image_block_response",
        h.last.tsn,
        status=Status.WAIT_FOR_DATA,
        current_time=0,
        request_time=request_time,
        minimum_block_period=period or 0,
    )
    return h.raw(data if period is not None else data[:-2])


# -- Image Block Response WAIT_FOR_DATA --------------------------------------------------------


def test_nine_byte_wait_for_data_neither_changes_nor_adds_the_minimum_block_period():
    """Spec §1.4 (0x05 WAIT_FOR_DATA): "The last field is absent in older servers. EmberZNet
    parses it only if the frame is long enough". ota-client.c imageBlockResponseParse adds
    MinimumBlockPeriod to the wait, and updates the attribute, only when the frame carries it."""
    h = ClientHarness()
    h.to_download(IMAGE)
    _wait_for_data(h, request_time=10, period=2000)  # the 11-byte form: 10 s + 2000 ms
    assert h.client.minimum_block_period == 2000
    assert h.timer_delay == 12
    h.fire()
    _wait_for_data(h, request_time=30, period=None)  # the 9-byte form: 30 s, nothing added
    assert h.client.minimum_block_period == 2000
    assert h.timer_delay == 30
    h.fire()
    assert h.last.name == "image_block" and h.last.command.minimum_block_period == 2000


def test_unknown_block_response_status_gets_invalid_value_and_the_download_goes_on():
    """ota-client.c imageBlockResponseParse: a status other than SUCCESS, WAIT_FOR_DATA, ABORT,
    NO_IMAGE_AVAILABLE and UNSUP_CLUSTER_COMMAND is "Unknown Image block response status code"
    and returns INVALID_VALUE (sent as a Default Response, spec §1.5: "EmberZNet: block response
    ... mismatch"); the download is not aborted. The answer still ends the wait (commandParse
    clears waitingForResponse first), so the tick asks for the same offset without an error."""
    h = ClientHarness()
    h.to_download(IMAGE)
    h.block(IMAGE)
    abort = frames.encode("image_block_response", h.last.tsn, status=Status.ABORT)
    actions = h.raw(abort[:3] + b"\x20")  # status 0x20: no such Image Block Response status
    assert default_responses(h.sent_since(actions)) == [(0x05, Status.INVALID_VALUE)]
    assert h.client.state is State.DOWNLOAD and h.client.image_type_id == IMAGE_TYPE
    assert not any(isinstance(a, oc.Outcome) for a in actions)
    h.fire()
    assert h.last.name == "image_block" and h.last.command.file_offset == 50
    assert h.client._errors == 0
    h.download_all(IMAGE)
    assert h.client.state is State.VERIFY_IMAGE


# -- Default Response to Query Next Image ------------------------------------------------------


def test_default_response_success_to_a_query_is_no_answer():
    """ota-client.c sl_zigbee_af_ota_bootload_cluster_client_default_response_cb: "The only
    default response we care about is non-success values"; a SUCCESS one is ignored, so the query
    is still unanswered and times out as usual (spec §2.3: no response in MESSAGE_TIMEOUT ->
    errors++, resend)."""
    h = ClientHarness()
    query = h.to_query()
    h.raw(frames.encode_default_response(query.tsn, 0x01, Status.SUCCESS, frames.S2C))
    assert h.timer_delay == 3.0  # still MESSAGE_TIMEOUT, not the 5-minute query delay
    h.fire()
    assert h.client._errors == 1 and h.last.name == "query_next_image"
    # A failing Default Response does end the wait: query again after the query delay.
    h.raw(frames.encode_default_response(h.last.tsn, 0x01, Status.FAILURE, frames.S2C))
    assert h.timer_delay == 300


# -- Upgrade End Response ----------------------------------------------------------------------


def test_upgrade_end_response_during_countdown_is_refused_with_failure():
    """ota-client.c commandParse: an Upgrade End Response outside WAITING_FOR_UPGRADE_MESSAGE and
    UPGRADE_VIA_OUT_OF_BAND is "unexpected ... Ignored" and answered FAILURE (spec §2.3: "command
    invalid for current state -> ignored (FAILURE default rsp if unicast)"). The countdown the
    first response started is kept."""
    h = ClientHarness()
    h.to_waiting(IMAGE)
    h.upgrade_end_response(0, 600)
    assert h.client.state is State.COUNTDOWN_TO_UPGRADE
    due = h.due
    actions = h.upgrade_end_response(0, 0)  # "upgrade now" while counting down
    assert default_responses(h.sent_since(actions)) == [(0x07, Status.FAILURE)]
    assert h.client.state is State.COUNTDOWN_TO_UPGRADE and h.due == due
    # Broadcast: ignored without an answer.
    data = frames.encode(
        "upgrade_end_response",
        h.last.tsn,
        manufacturer_code=MFG,
        image_type=IMAGE_TYPE,
        file_version=2,
        current_time=0,
        upgrade_time=0,
    )
    assert h.raw(data, broadcast=True) == [] and h.due == due
    assert isinstance(h.fire()[-1], oc.Activate)


# -- Image Notify before a server is selected --------------------------------------------------


def _notify(h: ClientHarness, *, broadcast: bool) -> list:
    return h.server_says(
        "image_notify",
        tsn=9,
        src=SERVER,
        broadcast=broadcast,
        ddr=broadcast,
        payload_type=0,
        query_jitter=100,
    )


def test_image_notify_in_none_starts_server_discovery():
    """ota-client.c commandParse: an Image Notify in a state before DISCOVER_SERVER calls
    sl_zigbee_af_ota_client_start_cb, which starts server discovery at once (spec §1.6.6: "Notify
    before the server is known starts discovery immediately"); a unicast one also gets Default
    Response SUCCESS."""
    for broadcast in (True, False):
        h = ClientHarness()
        assert h.client.state is State.NONE
        actions = _notify(h, broadcast=broadcast)
        assert oc.DiscoverServer() in actions
        assert h.client.state is State.DISCOVER_SERVER
        expected = [] if broadcast else [(0x00, Status.SUCCESS)]
        assert default_responses(h.sent_since(actions)) == expected
        h.feed(oc.ServerFound(SERVER))
        h.feed(oc.ServerEuiResolved(SERVER_IEEE))
        assert h.last.name == "query_next_image"


def test_image_notify_while_waiting_to_rediscover_starts_discovery_again():
    """ota-client.c commandParse: "If we receive an image notify command while in the process of
    discovering a server, we should immediately start discovery" (startServerDiscovery), rather
    than wait out the server-discovery delay (10 min) after a discovery that found nobody. While a
    discovery is still in progress, startServerDiscovery is "prevented - another is already in
    progress": no second Match_Desc."""
    h = ClientHarness()
    h.feed(oc.Start())
    h.fire()
    assert h.client.state is State.DISCOVER_SERVER
    in_progress = _notify(h, broadcast=False)
    assert oc.DiscoverServer() not in in_progress
    assert default_responses(h.sent_since(in_progress)) == [(0x00, Status.SUCCESS)]
    h.feed(oc.DiscoveryFailed())
    assert h.timer_delay == 600
    actions = _notify(h, broadcast=True)
    assert oc.DiscoverServer() in actions and h.client.state is State.DISCOVER_SERVER
    h.feed(oc.ServerFound(SERVER))
    h.feed(oc.ServerEuiResolved(SERVER_IEEE))
    assert h.client.state is State.QUERY_NEXT_IMAGE and h.last.name == "query_next_image"


# -- Wildcard files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manufacturer_id", "image_type"), [(0xFFFF, IMAGE_TYPE), (MFG, 0xFFFF), (0xFFFF, 0xFFFF)]
)
def test_wildcard_file_offered_by_the_own_server_is_downloaded_and_activated(
    manufacturer_id, image_type
):
    """Spec §3.1 (Manufacturer Code "0xFFFF = wildcard") and §3.2 (Image Type "0xFFFF
    wildcard"): the server offers such a file under the querying client's ids, and the client
    accepts the file whose header has the wildcard where the offer has its own ids (it used to
    refuse it: "header does not match the offered image")."""
    anyone = make_image(
        bytes(range(256)) * 4, version=2, manufacturer_id=manufacturer_id, image_type=image_type
    )
    sim = Simulation(
        running_image=running_image(1),
        images=[anyone],
        identity=ClientIdentity(MFG, IMAGE_TYPE),
        seed=21,
    )
    result = sim.run()
    assert (result.outcome, result.reason) == ("activated", None)
    assert result.running_image == anyone


def test_a_file_for_another_manufacturer_is_still_refused():
    """The wildcard is the only exception: a header naming another manufacturer than the one
    offered is refused after download with INVALID_IMAGE (spec §2.1: "header sanity")."""
    h = ClientHarness()
    foreign = make_image(bytes(200), version=2, manufacturer_id=MFG + 1)
    h.to_download(foreign)
    h.download_all(foreign)
    h.fire()
    assert h.last.name == "upgrade_end" and h.last.command.status == Status.INVALID_IMAGE
    assert h.client.last_reason == "INVALID_IMAGE: header does not match the offered image"
