"""The emulated NCP's EZSP layer, frames in and frames out, against bellows' own codec.

Requests are built by bellows' protocol handlers (`EZSPvN._ezsp_frame`, what bellows sends on
the wire) and the NCP's frames are read back by the same handlers, so the NCP is checked
against the real host's encoding of every version; the byte-level checks are the ones
herdsman-ember.md §0 and §3 spell out for zigbee-herdsman's ember driver.
"""

from __future__ import annotations

import asyncio

import bellows.types as bt
import pytest
import zigpy.types as zt
import zigpy.zdo.types as zdo_t
from bellows.ezsp import EZSP

from emulator.radio import timeloop
from emulator.radio.ncp.ezsp import (
    EzspFrameError,
    EzspNcp,
    as_status,
    build_frame,
    parse_frame,
)

PARAMETERS = bt.EmberNetworkParameters(
    extendedPanId=bt.ExtendedPanId.convert("01:02:03:04:05:06:07:08"),
    panId=0x1234,
    radioTxPower=8,
    radioChannel=15,
    joinMethod=bt.EmberJoinMethod(0),
    nwkManagerId=0,
    nwkUpdateId=0,
    channels=bt.Channels.ALL_CHANNELS,
)


class Host:
    """bellows' protocol handler of one version, as a codec: frames out, callbacks read."""

    def __init__(self, version: int) -> None:
        self.received: list[tuple[str, list]] = []
        self.protocol = EZSP._BY_VERSION[version](
            lambda name, values: self.received.append((name, values)), None
        )

    def frame(self, name: str, *args, **kwargs) -> bytes:
        data = self.protocol._ezsp_frame(name, *args, **kwargs)
        self.protocol._seq = (self.protocol._seq + 1) % 256
        return data

    def read(self, frames: list[bytes]) -> list[tuple[str, list]]:
        self.received.clear()
        for data in frames:
            self.protocol(data)
        return list(self.received)


def ncp_and_host(version: int) -> tuple[EzspNcp, Host, list[bytes]]:
    ncp = EzspNcp(version=version)
    sent: list[bytes] = []
    ncp.attach(sent.append)
    return ncp, Host(version), sent


def test_legacy_version_gets_a_legacy_answer_with_the_configured_version():
    ncp, _host, sent = ncp_and_host(14)
    ncp.frame_received(bytes([0x00, 0x00, 0x00, 0x13]))  # herdsman's first frame: version(19)
    (frame,) = sent
    assert frame[:3] == bytes([0x00, 0x80, 0x00])  # legacy: frame id in byte 2
    assert frame[3:5] == bytes([14, 2])  # protocol version as configured, stack type mesh


def test_extended_version_gets_an_extended_answer():
    ncp, _host, sent = ncp_and_host(13)
    ncp.frame_received(bytes([0x05, 0x00, 0x01, 0x00, 0x00, 13]))
    (frame,) = sent
    assert frame[:5] == bytes([0x05, 0x80, 0x01, 0x00, 0x00])
    assert parse_frame(bytes([0x05, 0x00, 0x01, 0x00, 0x00, 13])).extended


@pytest.mark.parametrize("version", [8, 13, 14, 19])
def test_bellows_reads_every_answer_of_its_version(version):
    ncp, host, sent = ncp_and_host(version)
    ncp.frame_received(host.frame("version", version))
    ncp.frame_received(host.frame("getEui64"))
    ncp.frame_received(
        host.frame(
            "setPolicy",
            policyId=bt.EzspPolicyId.TRUST_CENTER_POLICY,
            decisionId=bt.EzspDecisionBitmask.ALLOW_JOINS,
        )
    )
    answers = host.read(sent)
    assert [name for name, _ in answers] == ["version", "getEui64", "setPolicy"]
    assert answers[0][1][0] == version
    assert answers[1][1][0] == ncp.eui64
    assert bt.sl_Status.from_ember_status(answers[2][1][0]) == bt.sl_Status.OK


def test_status_is_one_octet_up_to_v13_and_four_from_v14():
    for version, length in ((13, 1), (14, 4)):
        ncp, host, sent = ncp_and_host(version)
        ncp.frame_received(host.frame("setConfigurationValue", bt.EzspConfigId(0x0D), 5))
        assert len(sent[0]) == 5 + length
    assert as_status(bt.EmberStatus, bt.sl_Status.NETWORK_UP) == bt.EmberStatus.NETWORK_UP
    assert as_status(bt.EzspStatus, bt.sl_Status.OK) == bt.EzspStatus.SUCCESS


@pytest.mark.parametrize("version", [8, 13, 14])
def test_network_up_comes_after_the_network_init_response(version):
    ncp, host, sent = ncp_and_host(version)
    init = host.frame("networkInit", bt.EmberNetworkInitBitmask(0))
    ncp.frame_received(init)  # no network yet
    (answer,) = host.read(sent)
    assert bt.sl_Status.from_ember_status(answer[1][0]) == bt.sl_Status.NOT_JOINED
    sent.clear()
    ncp.frame_received(host.frame("formNetwork", PARAMETERS))
    response, callback = sent
    assert response[1] == 0x80 and callback[1] == 0x90  # herdsman tells callbacks by 0x10
    assert callback[0] == response[0]  # a callback never carries a pending command's sequence
    names = [name for name, _ in host.read(sent)]
    assert names == ["formNetwork", "stackStatusHandler"]
    sent.clear()
    ncp.reset()  # the NCP restarts; the network it formed stays
    ncp.frame_received(host.frame("networkInit", bt.EmberNetworkInitBitmask(0)))
    (_, (status,)), (_, (up,)) = host.read(sent)
    assert bt.sl_Status.from_ember_status(status) == bt.sl_Status.OK
    assert bt.sl_Status.from_ember_status(up) == bt.sl_Status.NETWORK_UP


def test_endpoint_flags_always_have_two_octets():
    """herdsman reads ENDPOINT_FLAGS before adding an endpoint and fails on fewer than 2."""
    ncp, host, sent = ncp_and_host(14)
    ncp.frame_received(host.frame("getExtendedValue", bt.EzspExtendedValueId(0), 1))
    ((_, (status, value)),) = host.read(sent)
    assert status != bt.sl_Status.OK and len(value) == 2


def test_a_command_not_emulated_gets_invalid_command():
    ncp, host, sent = ncp_and_host(13)
    ncp.frame_received(host.frame("gpSinkTableClearAll"))
    assert sent[0][3:5] == (0x0058).to_bytes(2, "little")
    assert sent[0][5] == bt.EzspStatus.ERROR_INVALID_FRAME_ID
    assert ncp.counters.unhandled == {"gpSinkTableClearAll": 1}


def test_unreadable_frames_are_refused_without_an_answer():
    ncp, _host, sent = ncp_and_host(13)
    for data in (b"", b"\x00\x00", bytes([0, 0, 0x05, 0x00])):
        ncp.frame_received(data)
    assert sent == [] and ncp.counters.invalid == 3
    with pytest.raises(EzspFrameError):
        parse_frame(bytes([0, 0, 0x41, 0, 0]))  # reserved frame-control bits
    assert build_frame(7, 0x19, b"\x90", extended=True, callback=True) == bytes(
        [7, 0x90, 0x01, 0x19, 0x00, 0x90]
    )


def test_the_ncp_answers_the_hosts_zdo_to_itself():
    """herdsman sends Active_EP_req and Simple_Desc_req to 0x0000 and needs the answers as
    incoming messages from 0x0000."""

    async def main():
        ncp, host, sent = ncp_and_host(14)
        ncp.frame_received(
            host.frame(
                "addEndpoint",
                endpoint=1,
                profileId=0x0104,
                deviceId=0x0065,
                deviceVersion=1,
                inputClusterCount=2,
                outputClusterCount=1,
                inputClusterList=[0x0000, 0x0019],
                outputClusterList=[0x0500],
            )
        )
        ncp.frame_received(host.frame("formNetwork", PARAMETERS))
        aps = bt.EmberApsFrame(
            profileId=0,
            clusterId=zdo_t.ZDOCmd.Simple_Desc_req,
            sourceEndpoint=0,
            destinationEndpoint=0,
            options=bt.EmberApsOption(0x1140),
            groupId=0,
            sequence=0,
        )
        request = bytes([0x21]) + zt.serialize([zt.NWK(0), zt.uint8_t(1)], [zt.NWK, zt.uint8_t])
        ncp.frame_received(
            host.frame(
                "sendUnicast",
                message_type=bt.EmberOutgoingMessageType.OUTGOING_DIRECT,
                nwk=0x0000,
                aps_frame=aps,
                message_tag=0x21,
                message=request,
            )
        )
        await asyncio.sleep(0)
        return host.read(sent)

    answers = timeloop.run(main())
    names = [name for name, _ in answers]
    assert names == [
        "addEndpoint",
        "formNetwork",
        "stackStatusHandler",
        "sendUnicast",
        "messageSentHandler",
        "incomingMessageHandler",
    ]
    message_type, aps, nwk, *_rest, message = answers[-1][1]
    assert nwk == 0x0000 and aps.clusterId == zdo_t.ZDOCmd.Simple_Desc_rsp
    assert message_type == bt.EmberIncomingMessageType.INCOMING_UNICAST
    _hdr, rest = message[:1], message[1:]
    (status, addr, descriptor), _ = zt.deserialize(
        rest, zdo_t.CLUSTERS[zdo_t.ZDOCmd.Simple_Desc_rsp][1]
    )
    assert status == zdo_t.Status.SUCCESS and addr == 0x0000
    assert descriptor.input_clusters == [0x0000, 0x0019]
    assert descriptor.output_clusters == [0x0500]
