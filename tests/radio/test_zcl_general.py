"""An emulated device answers the general ZCL and ZDO commands a coordinator sets devices up with,
on every cluster it declares, as real devices do (what ZHA's device configuration needs).

Each test runs a real zigpy coordinator on hanemu's virtual radio against an emulated IHD
(Smart Energy profile 0x0109) and asks through zigpy's own cluster and ZDO API; where the answer
is "nothing is sent", the test reads the air. Clauses are ZCL rev 8 (07-5123-08) and Zigbee
R22 (05-3474-22) ZDO.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import zigpy.types as t
import zigpy.zdo.types as zdo_t
from zigpy.zcl import foundation
from zigpy.zcl.foundation import GeneralCommand, Status

from emulator.device.hub import HUB_DESCRIPTOR
from emulator.ota.client import UNKNOWN_EUI64
from emulator.profiles import load_profile
from emulator.radio import timeloop, virtual
from emulator.radio.zigpy_node import ZigpyNode
from tests.radio.test_virtual_radio import _initialized, _node

PROFILE = load_profile("ihd")
Scenario = Callable[[Any, Any, ZigpyNode, list[t.ZigbeePacket]], Awaitable[Any]]


def _run(scenario: Scenario, *, hub: bool = True) -> Any:
    """Start a coordinator (with the Comms Hub's SE endpoint when `hub`), join an emulated IHD,
    wait until zigpy has interviewed it, then run `scenario(app, device, node, air)`; `air`
    lists every packet the node sends."""

    async def main() -> Any:
        net = virtual.VirtualNetwork()
        air: list[t.ZigbeePacket] = []
        net.captures.append(lambda packet, _now: air.append(packet))
        app = await virtual.start(net, extra_endpoints=[HUB_DESCRIPTOR] if hub else None)
        node = _node(net, PROFILE.zigbee, PROFILE.ota)
        device = await _initialized(app, node.ieee)
        try:
            from_node = [p for p in air if p.src.address == node.nwk]
            return await scenario(app, device, node, from_node)
        finally:
            await app.shutdown()

    return timeloop.run(main())


def _watch(app: Any, node: ZigpyNode) -> list[t.ZigbeePacket]:
    """Every packet the node sends from now on."""
    seen: list[t.ZigbeePacket] = []
    app.network.captures.append(
        lambda packet, _now: seen.append(packet) if packet.src.address == node.nwk else None
    )
    return seen


def _records(rsp: Any) -> dict[int, tuple[Status, Any]]:
    return {
        r.attrid: (r.status, None if r.value is None else r.value.value) for r in rsp.status_records
    }


def test_read_attributes_answers_on_every_declared_cluster():
    """§2.5.1.3/§2.5.2: every cluster the device declares, server side (input clusters) and
    client side (output clusters), answers a read; ClusterRevision (§2.3.5.1, mandatory on
    every cluster) is there, an attribute the side does not implement is UNSUPPORTED_ATTRIBUTE."""

    async def scenario(app, device, node, air):
        ep = device.endpoints[1]
        answers = {}
        for side, clusters in (("server", ep.in_clusters), ("client", ep.out_clusters)):
            for cluster_id, cluster in clusters.items():
                rsp = await cluster.read_attributes_raw([0xFFFD, 0x4242])
                answers[(side, cluster_id)] = _records(rsp)
        suite = _records(await ep.in_clusters[0x0800].read_attributes_raw([0x0000]))
        return answers, suite

    answers, suite = _run(scenario)
    declared = {("server", c) for c in PROFILE.zigbee.endpoints[0].input_clusters} | {
        ("client", c) for c in PROFILE.zigbee.endpoints[0].output_clusters
    }
    assert set(answers) == declared
    for records in answers.values():
        assert records[0xFFFD][0] == Status.SUCCESS and records[0xFFFD][1] >= 1
        assert records[0x4242] == (Status.UNSUPPORTED_ATTRIBUTE, None)
    assert answers[("client", 0x0019)][0xFFFD][1] == PROFILE.ota.cluster_revision
    assert suite[0x0000] == (Status.SUCCESS, 0x0001)  # Key Establishment: CBKE crypto suite 1


def test_ota_upgrade_server_id_is_unknown_until_the_server_is_found():
    """ZCL rev 8 ch. 11 (OTA client attributes): UpgradeServerID is 0xFFFFFFFFFFFFFFFF until the
    client knows its server (EmberZNet writes it once the server's EUI is resolved), then the
    server's IEEE address; a read of several attributes including it answers all."""
    ids = [0x0000, 0x0002, 0x0006]

    async def unknown(app, device, node, air):
        return _records(await device.endpoints[1].out_clusters[0x0019].read_attributes_raw(ids))

    async def found(app, device, node, air):
        while node.device.client.upgrade_server_id == UNKNOWN_EUI64:
            await asyncio.sleep(1)
        return _records(await device.endpoints[1].out_clusters[0x0019].read_attributes_raw(ids))

    # No coordinator endpoint answers Smart Energy Match_Desc: the client never finds a server.
    before = _run(unknown, hub=False)
    after = _run(found)
    assert before[0x0000] == (Status.SUCCESS, t.EUI64.convert("ff:ff:ff:ff:ff:ff:ff:ff"))
    assert after[0x0000] == (Status.SUCCESS, virtual.COORDINATOR_IEEE)
    for records in (before, after):
        assert set(records) == set(ids)
        assert records[0x0002] == (Status.SUCCESS, PROFILE.zigbee.firmware_version)
        assert records[0x0006][0] == Status.SUCCESS


def test_write_attributes_writes_what_is_writable():
    """§2.5.3.3: each record is checked: UNSUPPORTED_ATTRIBUTE, READ_ONLY, INVALID_DATA_TYPE;
    the others are written (the response names the failures only, §2.5.5). Undivided (§2.5.4)
    writes nothing when one record fails; No Response (§2.5.6) writes and answers nothing."""

    def attribute(attrid: int, zcl_type: foundation.DataTypeId, value: Any) -> Any:
        return foundation.Attribute(attrid, foundation.TypeValue(type=zcl_type, value=value))

    async def scenario(app, device, node, air):
        basic = device.endpoints[1].in_clusters[0x0000]
        string = foundation.DataTypeId.string
        mixed = await basic.write_attributes_raw(
            [
                attribute(0x0010, string, t.CharacterString("hall")),  # LocationDescription
                attribute(0x0007, foundation.DataTypeId.enum8, t.enum8(1)),  # PowerSource (R)
                attribute(0x4242, foundation.DataTypeId.uint8, t.uint8_t(1)),  # not implemented
                attribute(0x0011, foundation.DataTypeId.uint16, t.uint16_t(1)),  # wrong type
            ]
        )
        location = _records(await basic.read_attributes_raw([0x0010]))[0x0010]
        undivided = await basic.general_command(
            GeneralCommand.Write_Attributes_Undivided,
            [
                attribute(0x0010, string, t.CharacterString("loft")),
                attribute(0x0007, foundation.DataTypeId.enum8, t.enum8(1)),
            ],
        )
        after_undivided = _records(await basic.read_attributes_raw([0x0010]))[0x0010]
        seen = _watch(app, node)
        await basic.general_command(
            GeneralCommand.Write_Attributes_No_Response,
            [attribute(0x0010, string, t.CharacterString("shed"))],
            expect_reply=False,
            disable_default_response=False,
        )
        await asyncio.sleep(10)
        silent = list(seen)
        after_no_response = _records(await basic.read_attributes_raw([0x0010]))[0x0010]
        return mixed, location, undivided, after_undivided, silent, after_no_response

    mixed, location, undivided, after_undivided, silent, after_no_response = _run(scenario)
    assert [(r.status, r.attrid) for r in mixed.status_records] == [
        (Status.READ_ONLY, 0x0007),
        (Status.UNSUPPORTED_ATTRIBUTE, 0x4242),
        (Status.INVALID_DATA_TYPE, 0x0011),
    ]
    assert location == (Status.SUCCESS, "hall")
    assert [(r.status, r.attrid) for r in undivided.status_records] == [(Status.READ_ONLY, 7)]
    assert after_undivided == (Status.SUCCESS, "hall")
    assert silent == []
    assert after_no_response == (Status.SUCCESS, "shed")


def test_identify_time_written_counts_down_and_identify_query_answers():
    """ZCL §3.5.2.2.1: IdentifyTime is writable and counts down each second; §3.5.2.3: Identify
    starts identifying, Identify Query is answered only while the device identifies."""

    async def scenario(app, device, node, air):
        identify = device.endpoints[1].in_clusters[0x0003]
        written = await identify.write_attributes({"identify_time": 30})
        await asyncio.sleep(10)
        remaining = (await identify.read_attributes(["identify_time"]))[0]["identify_time"]
        query = await identify.identify_query()
        await identify.identify(0)
        stopped = (await identify.read_attributes(["identify_time"]))[0]["identify_time"]
        return written, remaining, query, stopped

    written, remaining, query, stopped = _run(scenario)
    assert written == [[foundation.WriteAttributesStatusRecord(Status.SUCCESS, 0x0000)]]
    assert 19 <= remaining <= 20  # 30 s minus the 10 s slept and the read's flight
    assert query.timeout == remaining
    assert stopped == 0


def test_configure_reporting_is_answered_per_record_and_kept():
    """§2.5.7.3/§2.5.8: each record is SUCCESS or says why not (UNSUPPORTED_ATTRIBUTE for an
    attribute the cluster side does not implement); when all succeed the response is one
    SUCCESS record. Read Reporting Configuration (§2.5.9/§2.5.10) returns what was kept."""

    def record(attrid: int, zcl_type: int) -> foundation.AttributeReportingConfig:
        config = foundation.AttributeReportingConfig()
        config.direction = foundation.ReportingDirection.SendReports
        config.attrid, config.datatype = attrid, zcl_type
        config.min_interval, config.max_interval, config.reportable_change = 0, 3600, 1
        return config

    async def scenario(app, device, node, air):
        ota = device.endpoints[1].out_clusters[0x0019]
        by_zigpy = await ota.configure_reporting("current_file_version", 0, 3600, 1)
        mixed = await ota.general_command(
            GeneralCommand.Configure_Reporting,
            [record(0x0002, 0x23), record(0x4242, 0x20), record(0x0006, 0x21)],
        )
        kept = await ota.general_command(
            GeneralCommand.Read_Reporting_Configuration,
            [
                foundation.ReadReportingConfigRecord(direction=0, attrid=0x0002),
                foundation.ReadReportingConfigRecord(direction=0, attrid=0x0001),
                foundation.ReadReportingConfigRecord(direction=0, attrid=0x4242),
            ],
        )
        return by_zigpy, mixed, kept

    by_zigpy, mixed, kept = _run(scenario)
    assert list(by_zigpy.values()) == [Status.SUCCESS]
    assert [(r.status, r.attrid) for r in mixed.status_records] == [
        (Status.UNSUPPORTED_ATTRIBUTE, 0x4242),
        (Status.INVALID_DATA_TYPE, 0x0006),  # ImageUpgradeStatus is an enum8, not a uint16
    ]
    configs = [(c.status, c.config.attrid) for c in kept.attribute_configs]
    assert configs == [
        (Status.SUCCESS, 0x0002),
        (Status.NOT_FOUND, 0x0001),  # implemented, never configured
        (Status.UNSUPPORTED_ATTRIBUTE, 0x4242),
    ]
    assert kept.attribute_configs[0].config.max_interval == 3600


def test_zdo_bind_and_unbind_keep_a_binding_table():
    """Zigbee R22 §2.4.3.2.2/§2.4.4.3.2: Bind_req naming this node's endpoint is SUCCESS and
    kept (Mgmt_Bind_req reads the table, §2.4.4.4.4); Unbind_req of an entry that is not there
    is NO_ENTRY; an endpoint the node does not have is INVALID_EP."""

    async def scenario(app, device, node, air):
        ota = device.endpoints[1].out_clusters[0x0019]
        basic = device.endpoints[1].in_clusters[0x0000]
        bound = [await ota.bind(), await basic.bind()]
        table = await device.zdo.Mgmt_Bind_req(0)
        unbound = [await ota.unbind(), await ota.unbind()]
        after = await device.zdo.Mgmt_Bind_req(0)
        wrong_ep = await device.zdo.Bind_req(device.ieee, 9, 0x0019, app.get_dst_address(ota))
        return bound, table, unbound, after, wrong_ep

    bound, table, unbound, after, wrong_ep = _run(scenario)
    assert bound == [[zdo_t.Status.SUCCESS], [zdo_t.Status.SUCCESS]]
    status, entries, start, bindings = table
    assert (status, entries, start) == (zdo_t.Status.SUCCESS, 2, 0)
    assert [(b.SrcEndpoint, b.ClusterId) for b in bindings] == [(1, 0x0019), (1, 0x0000)]
    assert bindings[0].DstAddress.ieee == virtual.COORDINATOR_IEEE
    assert unbound == [[zdo_t.Status.SUCCESS], [zdo_t.Status.NO_ENTRY]]
    assert after[1] == 1
    assert wrong_ep == [zdo_t.Status.INVALID_EP]


def test_default_response_for_what_the_device_does_not_handle():
    """§2.5.12.2: a unicast command with no response of its own gets a Default Response when
    it fails, whatever Disable Default Response says, and on success only when the bit is clear;
    status codes (§2.6.3): UNSUP_GENERAL_COMMAND, UNSUP_CLUSTER_COMMAND, UNSUPPORTED_CLUSTER (a
    cluster the endpoint does not declare on that side); a Default Response is never answered."""

    def frame(fc: int, tsn: int, command: int, payload: bytes = b"") -> bytes:
        return bytes([fc, tsn, command]) + payload

    async def scenario(app, device, node, air):
        async def ask(cluster: int, data: bytes) -> list[bytes]:
            seen = _watch(app, node)
            await app.send_zcl(device, src_ep=1, dst_ep=1, cluster=cluster, data=data)
            await asyncio.sleep(5)
            return [p.data.serialize() for p in seen if p.cluster_id == cluster]

        return {
            # Discover Commands Received (0x11): a general command the device does not handle.
            "general": await ask(0x0000, frame(0x10, 1, 0x11, b"\x00\x10")),
            # Basic "Reset to Factory Defaults" (0x00), Disable Default Response set: still
            # answered, it failed.
            "cluster": await ask(0x0000, frame(0x11, 2, 0x00)),
            # Identify (0x00) for 0 s succeeds: answered only with the bit clear.
            "success, bit clear": await ask(0x0003, frame(0x01, 3, 0x00, b"\x00\x00")),
            "success, bit set": await ask(0x0003, frame(0x11, 4, 0x00, b"\x00\x00")),
            # On/Off (0x0006) is no cluster of the device's.
            "cluster absent": await ask(0x0006, frame(0x01, 5, 0x01)),
            # The server side of Time: the device only has Time's client side.
            "side absent": await ask(0x000A, frame(0x00, 6, 0x00, b"\x00\x00")),
            "a default response": await ask(0x0000, frame(0x18, 7, 0x0B, b"\x00\x00")),
            "malformed": await ask(0x0000, frame(0x10, 8, 0x00, b"\x00")),
        }

    answers = _run(scenario)

    def default_response(tsn: int, command: int, status: Status) -> list[bytes]:
        return [bytes([0x18, tsn, 0x0B, command, status])]

    assert answers["general"] == default_response(1, 0x11, Status.UNSUP_GENERAL_COMMAND)
    assert answers["cluster"] == default_response(2, 0x00, Status.UNSUP_CLUSTER_COMMAND)
    assert answers["success, bit clear"] == default_response(3, 0x00, Status.SUCCESS)
    assert answers["success, bit set"] == []
    assert answers["cluster absent"] == default_response(5, 0x01, Status.UNSUPPORTED_CLUSTER)
    assert answers["side absent"] == default_response(6, 0x00, Status.UNSUPPORTED_CLUSTER)
    assert answers["a default response"] == []
    assert answers["malformed"] == default_response(8, 0x00, Status.MALFORMED_COMMAND)
