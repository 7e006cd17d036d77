"""The OTA client compared with EmberZNet's ota-client.c (issue 10): each test is one behaviour
where the client had strayed from the spec digest (shared/spec/ota-cluster.md) or from EmberZNet,
on the real client and server objects with real ZCL bytes."""

from __future__ import annotations

import zlib

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
from emulator.ota.link import LinkPolicy
from emulator.ota.policy import ClientPolicy

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


# -- Page requests -----------------------------------------------------------------------------


def _writes(actions: list) -> list[tuple[int, int]]:
    return [(a.offset, len(a.data)) for a in actions if isinstance(a, oc.WriteSlot)]


def test_page_blocks_past_a_gap_are_kept_and_only_the_missing_bytes_asked_again():
    """ota-client-page-request.c: every block of the page is noted in a bitmap as it comes, in
    any order; when the page timer runs out (RETRY_MISSED_PACKETS) the client asks with Image
    Block Requests from the first missing offset, only for what is missing, and sends the next
    page request once the page is complete (spec §1.4, 0x04: "After that the client re-requests
    missed blocks with block requests"). It used to drop every block after a gap and ask for the
    rest of the page again."""
    h = ClientHarness(ClientPolicy(use_page_requests=True, page_size=200, max_data_size=63))
    page = h.to_download(IMAGE)
    assert (page.name, page.command.file_offset) == ("image_page", 0)
    assert _writes(h.block(IMAGE, offset=0)) == [(0, 50)]
    # The block at 50 is lost; 100 and 150 come past the gap: kept, not yet written.
    assert _writes(h.block(IMAGE, offset=100) + h.block(IMAGE, offset=150)) == []
    assert h.client.file_offset == 50 and h.client.attributes()["file_offset"] == 50
    h.fire()  # the page timer: ask for the gap 50..100 only
    ask = h.last
    assert (ask.name, ask.command.file_offset, ask.command.maximum_data_size) == (
        "image_block",
        50,
        50,
    )
    actions = h.block(IMAGE, offset=50)
    assert _writes(actions) == [(50, 50), (100, 50), (150, 50)]
    assert h.client.file_offset == 200
    assert (h.last.name, h.last.command.file_offset) == ("image_page", 200)  # the next page
    # The end of this page is lost: asked with a block request capped at MaximumDataSize.
    h.block(IMAGE, offset=200)
    h.block(IMAGE, offset=250)
    h.fire()
    assert (h.last.name, h.last.command.file_offset, h.last.command.maximum_data_size) == (
        "image_block",
        300,
        63,
    )
    assert h.client._errors == 0
    h.block(IMAGE, offset=300, size=63)
    assert (h.last.name, h.last.command.file_offset, h.last.command.maximum_data_size) == (
        "image_block",
        363,
        37,
    )
    h.block(IMAGE, offset=363, size=37)
    assert (h.last.name, h.last.command.file_offset) == ("image_page", 400)
    assert h.client.state is State.DOWNLOAD and IMAGE.startswith(
        bytes(h.client._download.data[:400])
    )


def test_page_requests_over_a_lossy_link_fetch_each_byte_about_once():
    """End to end against the real server over a link that drops 10 % of frames: the image is
    activated and the server serves little more than the image (blocks past a gap are kept, only
    missing ones asked again, spec §1.4 0x04); dropping them had cost about twice the image."""
    image = make_image(bytes(range(256)) * 40, version=2)
    sim = Simulation(
        running_image=running_image(1),
        images=[image],
        identity=ClientIdentity(MFG, IMAGE_TYPE),
        client_policy=ClientPolicy(use_page_requests=True),
        link=LinkPolicy(drop=0.1, reorder=0.3),
        seed=0,
    )
    result = sim.run()
    assert result.outcome == "activated" and result.running_image == image
    assert sim.server.bytes_served < 1.3 * len(image)


# -- ImageStamp --------------------------------------------------------------------------------


def test_image_stamp_is_the_running_images_stamp():
    """Spec §1.1, 0x000A ImageStamp: "Manufacturer-specific stamp of the running image. EmberZNet
    copies the AAT image stamp" (ota-client.c writes it at init from the running application).
    It was always 0; now it is the stamp boot reads from the running image (CRC-32 of its OTA
    file), so two builds of one version differ and a new image changes it after activation."""
    old, rebuilt = running_image(1), make_image(b"another build", version=1)
    assert oc.image_stamp(old) == zlib.crc32(old) != oc.image_stamp(rebuilt)
    h = ClientHarness(boot=oc.PowerRestored(1, image_stamp=oc.image_stamp(old)))
    assert h.client.attributes()["image_stamp"] == zlib.crc32(old)
    h.to_waiting(IMAGE)  # a downloaded image waiting to activate does not change it
    assert h.client.attributes()["image_stamp"] == zlib.crc32(old)
    h.feed(oc.PowerLost())
    h.feed(oc.PowerRestored(2, image_stamp=oc.image_stamp(IMAGE)))
    assert h.client.attributes()["image_stamp"] == zlib.crc32(IMAGE)
    # A boot that does not know the stamp reports the identity's.
    h.feed(oc.PowerLost())
    h.feed(oc.PowerRestored(2))
    assert h.client.attributes()["image_stamp"] == h.client.identity.image_stamp == 0
