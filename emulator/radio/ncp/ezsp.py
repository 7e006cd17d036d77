"""EZSP on the NCP side: frames, the commands a host starts with, and the data path to an air.

`parse_frame` and `build_frame` own the two EZSP frame formats: legacy (`seq, frame control,
frame id u8`, which every host uses for its first `version` command) and extended (EZSP v8 and
later: `seq, frame control low, frame control high (frame format version 1), frame id u16 LE`).
Parameters are declared once, by bellows' own command tables (`bellows.ezsp.vN.commands`:
`{name: (frame id, request schema, response schema)}`); `Commands` picks the table of a protocol
version (8, 13 to 19; 15 has no table of its own and uses 14's, as nothing a host sends differs)
and parses requests and builds responses and callbacks by field name. Field names differ
between versions only in spelling (`apsFrame`, `aps_frame`), so handlers use one canonical
name each (`_canonical`); status fields take `sl_Status` values and are converted to the
field's own type (EmberStatus and EzspStatus up to v13, sl_Status from v14) through bellows'
status map.

`EzspNcp` is the emulated NCP. It answers the start-up command sets of bellows and of
zigbee-herdsman's ember driver (herdsman-ember.md §0 and §4: one response per command, in
order; callbacks with frame control 0x90; `stackStatusHandler(NETWORK_UP)` only after the
`networkInit`/`formNetwork` response), keeps what a dongle keeps in NVRAM (the network it formed,
its keys) across host connections and resets, and forgets what a reset clears (endpoints,
stack running). It reports the protocol version it is configured with, whatever the host asks.
A command it does not emulate gets `invalidCommand(ERROR_INVALID_FRAME_ID)`, as firmware
answers a frame id it does not know.

The data path: `sendUnicast`/`sendBroadcast`/`sendMulticast` become zigpy `ZigbeePacket`s handed
to the air (`transmit`, e.g. `VirtualNetwork.from_coordinator`), each followed by
`messageSentHandler`; a packet that lands at the coordinator (`packet_received`, what the air
calls on its `app`) becomes `incomingMessageHandler`. The NCP's own ZDO answers what EmberZNet's
stack answers for the node itself (Node, Active EP, Simple and Match descriptors from the
endpoints the host added, IEEE and NWK address), for devices on the air and for the host's own
requests to its node (herdsman sends Active_EP_req and Simple_Desc_req to 0x0000); copies reach
the host as `CONFIG_APPLICATION_ZDO_FLAGS` asks. Smart Energy (0x0109) ZCL frames are presented
to the host as Home Automation (0x0104), the only application profile hosts parse (zigpy's
`_parse_packet_header`, herdsman's `ezspIncomingMessageHandler`); nothing else is rewritten.
`join(nwk, ieee)` tells the host of a device joining (`trustCenterJoinHandler`), and
`on_permit` hears when the host opens the network.

This module owns EZSP framing, command semantics and the NCP's state. It never touches sockets
(the server and ASH do), never decides what a device does (the air and the device stack do),
and reads time only from the running asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import bellows.types as bt
import zigpy.exceptions
import zigpy.types as zt
import zigpy.zdo.types as zdo_t
from bellows.ezsp import EZSP
from bellows.types.named import SL_STATUS_MAP

from emulator.errors import FormatError

LOGGER = logging.getLogger(__name__)

SUPPORTED_VERSIONS = (8, 13, 14, 15, 16, 17, 18, 19)
"""EZSP protocol versions the NCP can be configured with."""
DEFAULT_VERSION = 13
STACK_TYPE_MESH = 2
STACK_VERSIONS = {8: (6, 10, 3), 13: (7, 1, 1), 14: (7, 4, 0), 15: (7, 4, 1), 16: (7, 4, 2)}
"""EmberZNet release each protocol version shipped with (17 and later: 8.x)."""
NCP_EUI64 = zt.EUI64.convert("00:0d:6f:ff:fe:4e:43:50")
"""The emulated dongle's own EUI-64 (Silicon Labs OUI)."""
SILICON_LABS = 0x1049
SE_PROFILE = 0x0109
HA_PROFILE = 0x0104
ZDO_PROFILE = 0x0000
INVALID_COMMAND = 0x0058
VERSION_COMMAND = 0x0000

# Frame control, low byte (UG100 §3): response, callback (asynchronous), truncated, overflow.
FC_RESPONSE = 0x80
FC_CALLBACK = 0x10
FC_HIGH_EXTENDED = 0x01
"""Frame format version 1 in the high frame-control byte: the extended frame."""

# CONFIG_APPLICATION_ZDO_FLAGS (EmberZdoConfigurationFlags).
ZDO_APP_RECEIVES_SUPPORTED = 0x01
ZDO_APP_HANDLES_UNSUPPORTED = 0x02
ZDO_APP_HANDLES_ENDPOINT_REQUESTS = 0x04

NWK_STATUS_NO_NETWORK = 0
NWK_STATUS_JOINED = 2
NODE_COORDINATOR = 1
NODE_UNKNOWN = 0
DEVICE_UNSECURED_JOIN = 1
"""EmberDeviceUpdate.STANDARD_SECURITY_UNSECURED_JOIN."""
USE_PRECONFIGURED_KEY = 0
"""EmberJoinDecision.USE_PRECONFIGURED_KEY."""
INCOMING_UNICAST = 0
INCOMING_BROADCAST = 4
INCOMING_MULTICAST = 2
OUTGOING_BROADCAST = 3
OUTGOING_MULTICAST = 4
MFG_TOKENS = {
    bt.EzspMfgTokenId.MFG_STRING: b"hanemu".ljust(16, b"\xff"),
    bt.EzspMfgTokenId.MFG_BOARD_NAME: b"emulated NCP".ljust(16, b"\xff"),
    bt.EzspMfgTokenId.MFG_CUSTOM_EUI_64: b"\xff" * 8,
    bt.EzspMfgTokenId.MFG_MANUF_ID: SILICON_LABS.to_bytes(2, "little"),
}
"""Manufacturing tokens (unset ones read 0xFF, as erased flash does)."""


class EzspFrameError(FormatError):
    """An EZSP frame the NCP cannot read."""


# -- frames ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """One EZSP frame: sequence, frame id, parameters, and which format carried it."""

    sequence: int
    frame_id: int
    params: bytes
    extended: bool
    control: int = 0
    """Frame control, low byte."""


def parse_frame(data: bytes) -> Frame:
    """Read a host's EZSP frame: extended when the high frame-control byte says frame format
    version 1, legacy (the `version` command every host starts with) when byte 2 is frame id 0."""
    if len(data) < 3:
        raise EzspFrameError(f"EZSP frame of {len(data)} bytes", field="frame", offset=0)
    if len(data) >= 5 and data[2] & 0x03 == FC_HIGH_EXTENDED:
        if data[2] & 0xFC:
            raise EzspFrameError(
                f"unsupported frame control 0x{data[2]:02X}", field="frame control", offset=2
            )
        return Frame(data[0], int.from_bytes(data[3:5], "little"), data[5:], True, data[1])
    if data[2] == VERSION_COMMAND:
        return Frame(data[0], VERSION_COMMAND, data[3:], False, data[1])
    raise EzspFrameError(
        f"legacy frame id 0x{data[2]:02X} (only version is legacy)", field="frame id", offset=2
    )


def build_frame(
    sequence: int, frame_id: int, params: bytes, *, extended: bool, callback: bool = False
) -> bytes:
    """An NCP frame: a response, or with `callback` an asynchronous callback."""
    control = FC_RESPONSE | (FC_CALLBACK if callback else 0)
    if not extended:
        return bytes([sequence & 0xFF, control, frame_id]) + params
    header = bytes([sequence & 0xFF, control, FC_HIGH_EXTENDED])
    return header + frame_id.to_bytes(2, "little") + params


# -- command tables ------------------------------------------------------------------------------

_ALIASES = {
    "messagetype": "type",
    "apsframe": "aps",
    "lasthoplqi": "lqi",
    "lasthoprssi": "rssi",
    "sender": "nwk",
    "indexordestination": "nwk",
    "messagecontents": "message",
    "messagetag": "tag",
    "plaintextkey": "key",
}


def _canonical(name: str) -> str:
    """One name for a field however a version spells it (`aps_frame`, `apsFrame`: `aps`)."""
    key = name.replace("_", "").lower()
    return _ALIASES.get(key, key)


_STATUS_TYPES = (bt.sl_Status, bt.EmberStatus, bt.EzspStatus)
_FROM_SL: dict[tuple[type, bt.sl_Status], Any] = {}
for (_kind, _value), _sl in SL_STATUS_MAP.items():
    _FROM_SL.setdefault((_kind, _sl), _value)


def as_status(kind: type, status: bt.sl_Status) -> Any:
    """`status` as a field of type `kind` carries it (EmberStatus, EzspStatus or sl_Status)."""
    if kind is bt.sl_Status:
        return status
    try:
        return _FROM_SL[(kind, status)]
    except KeyError:
        return kind[status.name]


def zero(kind: Any) -> Any:
    """The all-zero value of a bellows or zigpy type (a struct field by field)."""
    fields = getattr(kind, "fields", None)
    if fields is not None:
        return kind(**{f.name: zero(f.type) for f in fields})
    length = getattr(kind, "_length", None)
    if length is not None:
        return kind([0] * length)
    for empty in (0, b"", []):
        try:
            return kind(empty)
        except (TypeError, ValueError):
            continue
    raise TypeError(f"no zero value for {kind!r}")


def _fields(schema: Any) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    return {f.name: f.type for f in schema.fields}


_GONE_IN_V14 = frozenset({("importTransientKey", "flags")})
"""Fields bellows' tables keep from v14 on but EZSP v14 dropped: herdsman, which follows the
SDK's host code, leaves them out (an NCP reads what is there)."""


class Commands:
    """bellows' command table of one EZSP protocol version."""

    def __init__(self, version: int) -> None:
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(f"EZSP protocol version {version} is not emulated")
        table = version if version in EZSP._BY_VERSION else version - 1
        self.version = version
        self.by_name: dict[str, tuple[int, Any, Any]] = EZSP._BY_VERSION[table].COMMANDS
        self.by_id = {spec[0]: name for name, spec in self.by_name.items()}

    def parse(self, name: str, params: bytes) -> dict[str, Any]:
        """A request's parameters by canonical field name."""
        _id, request, _response = self.by_name[name]
        values: dict[str, Any] = {}
        for key, kind in _fields(request).items():
            if not params and self.version >= 14 and (name, _canonical(key)) in _GONE_IN_V14:
                continue
            values[_canonical(key)], params = kind.deserialize(params)
        return values

    def build(self, name: str, values: dict[str, Any]) -> bytes:
        """A response's or callback's parameters from values by canonical name; a status is
        an sl_Status converted to the field's type, an absent status is OK, any other absent
        field is all zeros."""
        _id, _request, schema = self.by_name[name]
        out: dict[str, Any] = {}
        for key, kind in _fields(schema).items():
            value = values.get(_canonical(key))
            if kind in _STATUS_TYPES:
                value = as_status(kind, bt.sl_Status.OK if value is None else value)
            elif value is None:
                value = zero(kind)
            elif isinstance(value, list):
                value = kind(value)
            out[key] = value
        if isinstance(schema, dict):
            return b"".join(kind(out[key]).serialize() for key, kind in schema.items())
        return schema(**out).serialize()

    def frame_id(self, name: str) -> int:
        return self.by_name[name][0]


# -- the NCP --------------------------------------------------------------------------------------

Transmit = Callable[[zt.ZigbeePacket], Awaitable[None]]
SendFrame = Callable[[bytes], None]


@dataclass(slots=True)
class Network:
    """What the NCP keeps of the network it formed (its NVRAM)."""

    parameters: bt.EmberNetworkParameters
    network_key: bt.KeyData
    tc_link_key: bt.KeyData
    key_sequence: int = 0
    security_bitmask: int = 0


@dataclass(slots=True)
class LocalEndpoint:
    endpoint: int
    profile: int
    device_type: int
    device_version: int
    input_clusters: list[int]
    output_clusters: list[int]


@dataclass(slots=True)
class NcpCounters:
    commands: int = 0
    unicasts: int = 0
    broadcasts: int = 0
    incoming: int = 0
    invalid: int = 0
    unhandled: dict[str, int] = field(default_factory=dict)


Handler = Callable[["EzspNcp", dict[str, Any]], dict[str, Any]]


class EzspNcp:
    """An emulated Silicon Labs EZSP NCP: coordinator of one network, bridged to an air."""

    def __init__(
        self,
        *,
        version: int = DEFAULT_VERSION,
        transmit: Transmit | None = None,
        eui64: zt.EUI64 = NCP_EUI64,
        present_se_as_ha: bool = True,
    ) -> None:
        self.commands = Commands(version)
        self.version = version
        self.transmit = transmit
        self.eui64 = eui64
        self.nwk = 0x0000
        self.present_se_as_ha = present_se_as_ha
        self.network: Network | None = None
        self.on_permit: Callable[[int], None] | None = None
        """Told the duration (s) whenever the host permits joining (0: closed)."""
        self.on_left: Callable[[], None] | None = None
        """Told when the host leaves (or factory-resets) the network."""
        self.counters = NcpCounters()
        self.manufacturer_code = SILICON_LABS
        self._send: SendFrame | None = None
        self._initial_security: bt.EmberInitialSecurityState | None = None
        self._aps_seq = 0
        self._tasks: set[asyncio.Task] = set()
        self._addresses: dict[zt.EUI64, int] = {}
        self._after: list[Callable[[], None]] = []
        self._reset_state()

    # -- the host link ---------------------------------------------------------------------------

    def attach(self, send: SendFrame) -> None:
        """A host connected: frames to it go through `send` (ASH)."""
        self._send = send
        self.reset()

    def detach(self) -> None:
        self._send = None
        self.reset()

    def reset(self) -> None:
        """The NCP restarted (the host's RST, or a new connection): the stack is down and the
        endpoints are gone; the network it formed and its keys stay (NVRAM)."""
        self._reset_state()

    def _reset_state(self) -> None:
        self.up = False
        self.extended = False
        self.endpoints: dict[int, LocalEndpoint] = {}
        self.config: dict[int, int] = {}
        self.values: dict[int, bytes] = {}
        self.policies: dict[int, int] = {}
        self.multicast: dict[int, bt.EmberMulticastTableEntry] = {}
        self.permit_until = 0.0
        self._last_seq = 0

    @property
    def host_attached(self) -> bool:
        return self._send is not None

    def frame_received(self, data: bytes) -> None:
        """One EZSP frame from the host: exactly one response, then any callbacks it caused."""
        try:
            frame = parse_frame(data)
        except EzspFrameError as exc:
            self.counters.invalid += 1
            LOGGER.warning("dropped an EZSP frame: %s", exc)
            return
        self.counters.commands += 1
        self._last_seq = frame.sequence
        name = self.commands.by_id.get(frame.frame_id)
        handler = None if name is None else HANDLERS.get(name)
        after: list[Callable[[], None]] = []
        self._after = after
        if frame.frame_id == VERSION_COMMAND:
            self.extended = frame.extended
        if name is None or handler is None:
            shown = name or f"0x{frame.frame_id:04X}"
            self.counters.unhandled[shown] = self.counters.unhandled.get(shown, 0) + 1
            LOGGER.info("EZSP %s is not emulated: invalidCommand", shown)
            self._respond(frame, INVALID_COMMAND, self._invalid_command())
        else:
            try:
                request = self.commands.parse(name, frame.params)
            except (ValueError, KeyError) as exc:
                self.counters.invalid += 1
                LOGGER.warning("EZSP %s: unreadable parameters (%s)", name, exc)
                request = None
            if request is None:
                self._respond(frame, INVALID_COMMAND, self._invalid_command())
            else:
                try:
                    params = self.commands.build(
                        name, handler(self, request | {"_params": frame.params})
                    )
                except Exception as exc:  # a defect here must not take the host's link down
                    self.counters.invalid += 1
                    LOGGER.error("EZSP %s failed: %s: %s", name, type(exc).__name__, exc)
                    self._respond(frame, INVALID_COMMAND, self._invalid_command())
                else:
                    self._respond(frame, frame.frame_id, params)
        self._after = []
        for callback in after:
            callback()

    def _invalid_command(self) -> bytes:
        """invalidCommand's parameters: ERROR_INVALID_FRAME_ID (an sl_Status from v14)."""
        kind = self.commands.by_name["invalidCommand"][2]["status"]
        reason = bt.EzspStatus.ERROR_INVALID_FRAME_ID
        if kind is bt.sl_Status:
            return bt.sl_Status.INVALID_PARAMETER.serialize()
        return kind(reason).serialize()

    def _respond(self, frame: Frame, frame_id: int, params: bytes) -> None:
        if self._send is not None:
            extended = frame.extended if frame.frame_id == VERSION_COMMAND else True
            self._send(build_frame(frame.sequence, frame_id, params, extended=extended))

    def callback(self, name: str, **values: Any) -> None:
        """Send a callback to the host (nothing when none is attached). Its sequence is the last
        answered command's: bellows resolves a pending command by sequence alone."""
        if self._send is None:
            return
        params = self.commands.build(name, values)
        self._send(
            build_frame(
                self._last_seq, self.commands.frame_id(name), params, extended=True, callback=True
            )
        )

    def _then(self, action: Callable[[], None]) -> None:
        """Run `action` after the response to the command being handled has been sent."""
        self._after.append(action)

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # -- state helpers ---------------------------------------------------------------------------

    @property
    def permitting(self) -> bool:
        return self.up and self._now() < self.permit_until

    def _next_aps(self) -> int:
        self._aps_seq = (self._aps_seq + 1) & 0xFF
        return self._aps_seq

    def _stack_status(self, status: bt.sl_Status) -> None:
        self.callback("stackStatusHandler", status=status)

    def _network_up(self) -> None:
        self.up = True
        self._then(lambda: self._stack_status(bt.sl_Status.NETWORK_UP))

    # -- joins and the air ---------------------------------------------------------------------

    def join(self, nwk: int, ieee: zt.EUI64, parent: int = 0x0000) -> None:
        """A device joined through this trust centre: the host hears `trustCenterJoinHandler`."""
        self.callback(
            "trustCenterJoinHandler",
            newnodeid=nwk,
            newnodeeui64=ieee,
            status=bt.EmberDeviceUpdate(DEVICE_UNSECURED_JOIN),
            policydecision=bt.EmberJoinDecision(USE_PRECONFIGURED_KEY),
            parentofnewnodeid=parent,
        )

    def packet_received(self, packet: zt.ZigbeePacket) -> None:
        """A packet landed at the coordinator (the air calls this on its `app`)."""
        LOGGER.debug("from the air: %s", packet)
        if not self.up:
            return
        if packet.profile_id == ZDO_PROFILE and packet.dst_ep == 0:
            self._zdo_from_air(packet)
            return
        self._to_host(packet)

    def _to_host(self, packet: zt.ZigbeePacket) -> None:
        if packet.dst is not None and packet.dst.addr_mode == zt.AddrMode.Broadcast:
            kind = INCOMING_BROADCAST
        elif packet.dst is not None and packet.dst.addr_mode == zt.AddrMode.Group:
            kind = INCOMING_MULTICAST
        else:
            kind = INCOMING_UNICAST
        profile = packet.profile_id
        if self.present_se_as_ha and profile == SE_PROFILE and packet.src_ep != 0:
            profile = HA_PROFILE
        aps = bt.EmberApsFrame(
            profileId=profile,
            clusterId=packet.cluster_id,
            sourceEndpoint=packet.src_ep,
            destinationEndpoint=packet.dst_ep if packet.dst_ep is not None else 0,
            options=bt.EmberApsOption.APS_OPTION_NONE,
            groupId=packet.dst.address if kind == INCOMING_MULTICAST else 0,
            sequence=packet.tsn or 0,
        )
        src = int(packet.src.address) if packet.src is not None else 0xFFFE
        ieee = next((n for n, a in self._addresses.items() if a == src), zt.EUI64.UNKNOWN)
        self.counters.incoming += 1
        self.callback(
            "incomingMessageHandler",
            type=bt.EmberIncomingMessageType(kind),
            aps=aps,
            lqi=packet.lqi if packet.lqi is not None else 255,
            rssi=packet.rssi if packet.rssi is not None else -40,
            nwk=src,
            eui64=ieee,
            bindingindex=0xFF,
            addressindex=0xFF,
            timestamp=int(self._now() * 1000) & 0xFFFFFFFF,
            message=bt.LVBytes(packet.data.serialize()),
        )

    def remember(self, ieee: zt.EUI64, nwk: int) -> None:
        """The NCP's address table: a device's EUI-64 and NWK address."""
        self._addresses[ieee] = nwk

    def _send_to_air(
        self,
        *,
        kind: int,
        dst: zt.AddrModeAddress,
        aps: bt.EmberApsFrame,
        tag: int,
        message: bytes,
        radius: int = 0,
    ) -> int:
        """Hand a host's frame to the air; `messageSentHandler` follows with the outcome."""
        sequence = self._next_aps()
        aps = aps.replace(sequence=sequence)
        packet = zt.ZigbeePacket(
            src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=zt.NWK(self.nwk)),
            src_ep=aps.sourceEndpoint,
            dst=dst,
            dst_ep=aps.destinationEndpoint,
            tsn=sequence,
            profile_id=aps.profileId,
            cluster_id=aps.clusterId,
            data=zt.SerializableBytes(bytes(message)),
            radius=radius,
        )
        destination = int(dst.address) if dst.addr_mode != zt.AddrMode.Group else aps.groupId

        def sent(status: bt.sl_Status) -> None:
            self.callback(
                "messageSentHandler",
                status=status,
                type=bt.EmberOutgoingMessageType(kind),
                nwk=destination,
                aps=aps,
                tag=tag,
                message=bt.LVBytes(b""),
            )

        if dst.addr_mode == zt.AddrMode.NWK and int(dst.address) == self.nwk:
            self._then(lambda: sent(bt.sl_Status.OK))
            self._then(lambda: self._loopback(packet))
            return sequence
        if self.transmit is None:
            self._then(lambda: sent(bt.sl_Status.ZIGBEE_DELIVERY_FAILED))
            return sequence

        async def carry() -> None:
            LOGGER.debug("to the air: %s", packet)
            try:
                await self.transmit(packet)  # type: ignore[misc]
            except zigpy.exceptions.DeliveryError:
                sent(bt.sl_Status.ZIGBEE_DELIVERY_FAILED)
            else:
                sent(bt.sl_Status.OK)

        self._then(lambda: self._spawn(carry()))
        return sequence

    def _loopback(self, packet: zt.ZigbeePacket) -> None:
        """A host's frame to its own node: the NCP's ZDO answers, anything else comes back."""
        if packet.profile_id == ZDO_PROFILE and packet.dst_ep == 0:
            answer = self._zdo_answer(packet)
            if answer is not None:
                self._to_host(answer)
            return
        self._to_host(packet)

    # -- the node's own ZDO ----------------------------------------------------------------------

    def _zdo_from_air(self, packet: zt.ZigbeePacket) -> None:
        cluster = packet.cluster_id
        flags = self.config.get(bt.EzspConfigId.CONFIG_APPLICATION_ZDO_FLAGS, 0)
        if cluster >= 0x8000 or cluster == zdo_t.ZDOCmd.Device_annce:
            self._to_host(packet)  # responses and announcements always reach the host
            return
        endpoint_request = cluster in (
            zdo_t.ZDOCmd.Simple_Desc_req,
            zdo_t.ZDOCmd.Active_EP_req,
            zdo_t.ZDOCmd.Match_Desc_req,
        )
        handled_by_host = endpoint_request and flags & ZDO_APP_HANDLES_ENDPOINT_REQUESTS
        supported = cluster in ZDO_SUPPORTED
        if supported and not handled_by_host:
            answer = self._zdo_answer(packet)
            if answer is not None and self.transmit is not None:
                self._spawn(self._quietly(self.transmit(answer)))
        copy = ZDO_APP_RECEIVES_SUPPORTED if supported else ZDO_APP_HANDLES_UNSUPPORTED
        if flags & copy or handled_by_host:
            self._to_host(packet)

    @staticmethod
    async def _quietly(send: Awaitable[None]) -> None:
        with contextlib.suppress(zigpy.exceptions.DeliveryError):
            await send

    def _zdo_answer(self, packet: zt.ZigbeePacket) -> zt.ZigbeePacket | None:
        """The NCP stack's answer to a ZDO request for this node, or None (not for it, or a
        broadcast nothing matches)."""
        cluster = packet.cluster_id
        data = packet.data.serialize()
        if not data:
            return None
        tsn = data[0]
        ok = zdo_t.Status.SUCCESS
        me = zt.NWK(self.nwk)
        unicast = packet.dst is not None and packet.dst.addr_mode == zt.AddrMode.NWK
        try:
            args, _ = zt.deserialize(data[1:], zdo_t.CLUSTERS[cluster][1])
        except (KeyError, ValueError):
            args = None
        answer: list[Any]
        if cluster not in ZDO_SUPPORTED or args is None:
            if not unicast:
                return None
            return self._zdo_packet(packet, cluster | 0x8000, bytes([tsn, 0x84]))
        if cluster == zdo_t.ZDOCmd.Node_Desc_req:
            answer = [ok, me, self._node_descriptor()]
        elif cluster == zdo_t.ZDOCmd.Active_EP_req:
            answer = [ok, me, zt.LVList[zt.uint8_t](sorted(self.endpoints))]
        elif cluster == zdo_t.ZDOCmd.Simple_Desc_req:
            ep = self.endpoints.get(int(args[1]))
            if ep is None:
                answer = [zdo_t.Status.NOT_ACTIVE, me]
            else:
                answer = [ok, me, _simple_descriptor(ep)]
        elif cluster == zdo_t.ZDOCmd.Match_Desc_req:
            profile, wanted_in, wanted_out = int(args[1]), set(args[2]), set(args[3])
            matches = [
                zt.uint8_t(ep.endpoint)
                for ep in sorted(self.endpoints.values(), key=lambda e: e.endpoint)
                if profile in (ep.profile, 0xFFFF)
                and (wanted_in & set(ep.input_clusters) or wanted_out & set(ep.output_clusters))
            ]
            if not matches and self.present_se_as_ha and profile == SE_PROFILE:
                # A host with no SE endpoint (herdsman) serves SE devices from its HA one.
                matches = [
                    zt.uint8_t(ep.endpoint)
                    for ep in sorted(self.endpoints.values(), key=lambda e: e.endpoint)
                    if ep.profile == HA_PROFILE
                    and (wanted_in & set(ep.input_clusters) or wanted_out & set(ep.output_clusters))
                ]
            if not matches and not unicast:
                return None
            answer = [ok, me, zt.LVList[zt.uint8_t](matches)]
        elif cluster == zdo_t.ZDOCmd.IEEE_addr_req:
            if int(args[0]) != self.nwk:
                return None
            answer = [ok, self.eui64, me]
        else:  # NWK_addr_req
            if args[0] != self.eui64:
                return None
            answer = [ok, self.eui64, me]
        rsp = cluster | 0x8000
        payload = bytes([tsn]) + zt.serialize(answer, zdo_t.CLUSTERS[rsp][1][: len(answer)])
        return self._zdo_packet(packet, rsp, payload)

    def _zdo_packet(self, request: zt.ZigbeePacket, cluster: int, data: bytes) -> zt.ZigbeePacket:
        src = int(request.src.address) if request.src is not None else self.nwk
        return zt.ZigbeePacket(
            src=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=zt.NWK(self.nwk)),
            src_ep=0,
            dst=zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=zt.NWK(src)),
            dst_ep=0,
            tsn=self._next_aps(),
            profile_id=ZDO_PROFILE,
            cluster_id=cluster,
            data=zt.SerializableBytes(data),
            lqi=255,
            rssi=0,
        )

    def _node_descriptor(self) -> zdo_t.NodeDescriptor:
        flags = zdo_t.NodeDescriptor.MACCapabilityFlags
        return zdo_t.NodeDescriptor(
            logical_type=zdo_t.LogicalType.Coordinator,
            complex_descriptor_available=0,
            user_descriptor_available=0,
            reserved=0,
            aps_flags=0,
            frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
            mac_capability_flags=flags.AlternatePanCoordinator
            | flags.FullFunctionDevice
            | flags.MainsPowered
            | flags.RxOnWhenIdle
            | flags.AllocateAddress,
            manufacturer_code=self.manufacturer_code,
            maximum_buffer_size=82,
            maximum_incoming_transfer_size=128,
            server_mask=0x2C41,  # primary trust centre, network manager, stack revision 22
            maximum_outgoing_transfer_size=128,
            descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability.NONE,
        )

    # -- security --------------------------------------------------------------------------------

    def _network_key(self) -> bt.KeyData:
        return self.network.network_key if self.network is not None else bt.KeyData(bytes(16))

    def _tc_link_key(self) -> bt.KeyData:
        if self.network is not None:
            return self.network.tc_link_key
        return bt.KeyData(b"ZigBeeAlliance09")

    def _current_security(self) -> bt.EmberCurrentSecurityState:
        bits = bt.EmberCurrentSecurityBitmask.GLOBAL_LINK_KEY
        bits |= bt.EmberCurrentSecurityBitmask.HAVE_TRUST_CENTER_LINK_KEY
        if self.network is not None and self.network.security_bitmask & HASHED_TC_LINK_KEY:
            bits |= bt.EmberCurrentSecurityBitmask(HASHED_TC_LINK_KEY_CURRENT)
        return bt.EmberCurrentSecurityState(bitmask=bits, trustCenterLongAddress=self.eui64)


HASHED_TC_LINK_KEY = 0x0080
"""EmberInitialSecurityBitmask.TRUST_CENTER_USES_HASHED_LINK_KEY."""
HASHED_TC_LINK_KEY_CURRENT = 0x0084
"""EmberCurrentSecurityBitmask with TRUST_CENTER_USES_HASHED_LINK_KEY (0x84)."""

ZDO_SUPPORTED = frozenset(
    {
        zdo_t.ZDOCmd.Node_Desc_req,
        zdo_t.ZDOCmd.Active_EP_req,
        zdo_t.ZDOCmd.Simple_Desc_req,
        zdo_t.ZDOCmd.Match_Desc_req,
        zdo_t.ZDOCmd.IEEE_addr_req,
        zdo_t.ZDOCmd.NWK_addr_req,
    }
)
"""ZDO requests the NCP's stack answers for its own node."""


def _simple_descriptor(ep: LocalEndpoint) -> zdo_t.SizePrefixedSimpleDescriptor:
    return zdo_t.SizePrefixedSimpleDescriptor(
        endpoint=ep.endpoint,
        profile=ep.profile,
        device_type=ep.device_type,
        device_version=ep.device_version,
        input_clusters=list(ep.input_clusters),
        output_clusters=list(ep.output_clusters),
    )


# -- command handlers ---------------------------------------------------------------------------
# One function per emulated command: request values (canonical names) in, response values out.
# What a handler causes after its response (callbacks) goes through `ncp._then`.

HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = handler
        return handler

    return register


OK = bt.sl_Status.OK


@handles("version")
def _version(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    major, minor, patch = STACK_VERSIONS.get(ncp.version, (8, 0, 0))
    return {
        "protocolversion": ncp.version,
        "stacktype": STACK_TYPE_MESH,
        "stackversion": (major << 12) | (minor << 8) | (patch << 4),
    }


@handles("nop", "setManufacturerCode", "setPowerDescriptor", "clearTransientLinkKeys")
def _nothing(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    if "code" in req:
        ncp.manufacturer_code = int(req["code"])
    return {}


@handles(
    "setConcentrator",
    "setSourceRoute",
    "setExtendedTimeout",
    "addTransientLinkKey",
    "importTransientKey",
    "setRadioPower",
    "setRadioIeee802154CcaMode",
    "clearKeyTable",
    "setTokenData",
    "setMfgToken",
    "setChildData",
    "setAddressTableRemoteEui64",
    "setAddressTableRemoteNodeId",
    "replaceAddressTableEntry",
    "importLinkKey",
    "setTimer",
)
def _accepted(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    """Commands whose effect the emulation does not model: accepted."""
    return {"status": OK}


@handles("getValue")
def _get_value(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    value_id = int(req["valueid"])
    if value_id == bt.EzspValueId.VALUE_VERSION_INFO:
        major, minor, patch = STACK_VERSIONS.get(ncp.version, (8, 0, 0))
        info = bytes([0x00, 0x00, major, minor, patch, 0x00, 0xAA])  # build 0, GA release
        return {"status": OK, "value": bt.LVBytes(info)}
    if value_id == bt.EzspValueId.VALUE_FREE_BUFFERS:
        return {"status": OK, "value": bt.LVBytes(b"\xf0")}
    if value_id in ncp.values:
        return {"status": OK, "value": bt.LVBytes(ncp.values[value_id])}
    return {"status": bt.sl_Status.INVALID_PARAMETER, "value": bt.LVBytes(b"")}


@handles("setValue")
def _set_value(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    ncp.values[int(req["valueid"])] = bytes(req["value"])
    return {"status": OK}


@handles("getExtendedValue")
def _get_extended_value(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    # herdsman reads ENDPOINT_FLAGS before adding an endpoint: 2 bytes even when unknown
    # (herdsman-ember.md §0 rule 6); a known endpoint reads as enabled.
    if int(req["valueid"]) == 0 and int(req["characteristics"]) in ncp.endpoints:
        return {"status": OK, "value": bt.LVBytes(b"\x01\x00")}
    return {"status": bt.sl_Status.INVALID_PARAMETER, "value": bt.LVBytes(b"\x00\x00")}


@handles("getConfigurationValue")
def _get_config(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    config_id = int(req["configid"])
    return {"status": OK, "value": ncp.config.get(config_id, CONFIG_DEFAULTS.get(config_id, 0))}


@handles("setConfigurationValue")
def _set_config(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    if ncp.up:  # EmberZNet takes configuration only before the stack starts
        return {"status": bt.sl_Status.INVALID_STATE}
    ncp.config[int(req["configid"])] = int(req["value"])
    return {"status": OK}


CONFIG_DEFAULTS = {
    bt.EzspConfigId.CONFIG_SECURITY_LEVEL: 5,
    bt.EzspConfigId.CONFIG_KEY_TABLE_SIZE: 4,
    bt.EzspConfigId.CONFIG_MULTICAST_TABLE_SIZE: 16,
    bt.EzspConfigId.CONFIG_ADDRESS_TABLE_SIZE: 16,
    bt.EzspConfigId.CONFIG_STACK_PROFILE: 2,
    bt.EzspConfigId.CONFIG_SUPPORTED_NETWORKS: 1,
    bt.EzspConfigId.CONFIG_MAX_END_DEVICE_CHILDREN: 32,
    bt.EzspConfigId.CONFIG_PACKET_BUFFER_COUNT: 255,
}


@handles("setPolicy")
def _set_policy(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    ncp.policies[int(req["policyid"])] = int(req["decisionid"])
    return {"status": OK}


@handles("getPolicy")
def _get_policy(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"status": OK, "decisionid": ncp.policies.get(int(req["policyid"]), 0)}


@handles("addEndpoint")
def _add_endpoint(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    # bellows' schema cannot split the two cluster lists; the counts can (zigpy-bellows §5.6).
    p = req["_params"]
    if len(p) < 8:
        return {"status": bt.sl_Status.INVALID_PARAMETER}
    n_in, n_out = p[6], p[7]
    lists = p[8:]
    if len(lists) != 2 * (n_in + n_out) or p[0] in ncp.endpoints or ncp.up:
        return {"status": bt.sl_Status.INVALID_PARAMETER}
    clusters = [int.from_bytes(lists[i : i + 2], "little") for i in range(0, len(lists), 2)]
    ncp.endpoints[p[0]] = LocalEndpoint(
        endpoint=p[0],
        profile=int.from_bytes(p[1:3], "little"),
        device_type=int.from_bytes(p[3:5], "little"),
        device_version=p[5],
        input_clusters=clusters[:n_in],
        output_clusters=clusters[n_in:],
    )
    return {"status": OK}


@handles("readCounters", "readAndClearCounters")
def _counters(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"values": [bt.uint16_t(0)] * len(bt.EmberCounterType)}


@handles("networkState")
def _network_state(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    state = NWK_STATUS_JOINED if ncp.up else NWK_STATUS_NO_NETWORK
    return {"status": bt.EmberNetworkStatus(state)}


@handles("networkInit")
def _network_init(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    if ncp.network is None:
        return {"status": bt.sl_Status.NOT_JOINED}
    if ncp.up:
        return {"status": bt.sl_Status.INVALID_STATE}
    ncp._network_up()
    return {"status": OK}


@handles("setInitialSecurityState")
def _set_initial_security(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    ncp._initial_security = req["state"]
    return {"status": OK}


@handles("formNetwork")
def _form_network(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    if ncp.up:
        return {"status": bt.sl_Status.INVALID_STATE}
    security = ncp._initial_security
    if security is None:
        network_key = bt.KeyData(os.urandom(16))
        tc_key = bt.KeyData(b"ZigBeeAlliance09")
        bitmask, sequence = 0, 0
    else:
        network_key, tc_key = security.networkKey, security.preconfiguredKey
        bitmask, sequence = int(security.bitmask), int(security.networkKeySequenceNumber)
    ncp.network = Network(req["parameters"], network_key, tc_key, sequence, bitmask)
    ncp._network_up()
    return {"status": OK}


@handles("leaveNetwork")
def _leave_network(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    if not ncp.up:
        return {"status": bt.sl_Status.INVALID_STATE}
    ncp.up = False
    ncp.network = None
    ncp._then(lambda: ncp._stack_status(bt.sl_Status.NETWORK_DOWN))
    if ncp.on_left is not None:
        ncp._then(ncp.on_left)
    return {"status": OK}


@handles("tokenFactoryReset")
def _factory_reset(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    ncp.network = None
    ncp.up = False
    if ncp.on_left is not None:
        ncp._then(ncp.on_left)
    return {}


@handles("getNetworkParameters")
def _get_network_parameters(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    if ncp.network is None or not ncp.up:
        return {
            "status": bt.sl_Status.NOT_JOINED,
            "nodetype": bt.EmberNodeType(NODE_UNKNOWN),
            "parameters": bt.EmberNetworkParameters(
                extendedPanId=bt.ExtendedPanId.convert("00:00:00:00:00:00:00:00"),
                panId=0,
                radioTxPower=0,
                radioChannel=0,
                joinMethod=bt.EmberJoinMethod(0),
                nwkManagerId=0,
                nwkUpdateId=0,
                channels=bt.Channels(0),
            ),
        }
    return {
        "status": OK,
        "nodetype": bt.EmberNodeType(NODE_COORDINATOR),
        "parameters": ncp.network.parameters,
    }


@handles("getNodeId")
def _get_node_id(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"nodeid": ncp.nwk}


@handles("getEui64")
def _get_eui64(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"eui64": ncp.eui64}


@handles("getMfgToken")
def _get_mfg_token(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"tokendata": bt.LVBytes(MFG_TOKENS.get(req["tokenid"], b"\xff" * 16))}


@handles("getTokenData")
def _get_token_data(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"status": bt.sl_Status.NOT_FOUND, "value": bt.LVBytes32(b"")}


@handles("customFrame")
def _custom_frame(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    # No XNCP extensions: bellows then runs with FirmwareFeatures.NONE.
    return {"status": bt.sl_Status.INVALID_PARAMETER, "reply": bt.LVBytes(b"")}


@handles("getKey")
def _get_key(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    network = int(req["keytype"]) == bt.EmberKeyType.CURRENT_NETWORK_KEY
    key = ncp._network_key() if network else ncp._tc_link_key()
    bits = bt.EmberKeyStructBitmask.KEY_HAS_SEQUENCE_NUMBER if network else 0
    return {
        "status": OK if ncp.network is not None else bt.sl_Status.NOT_FOUND,
        "keystruct": bt.EmberKeyStruct(
            bitmask=bt.EmberKeyStructBitmask(bits),
            type=req["keytype"],
            key=key,
            outgoingFrameCounter=0,
            incomingFrameCounter=0,
            sequenceNumber=ncp.network.key_sequence if ncp.network is not None else 0,
            partnerEUI64=ncp.eui64,
        ),
    }


@handles("exportKey")
def _export_key(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    context = req["context"]
    network = context.core_key_type == bt.SecurityManagerKeyType.NETWORK
    key = ncp._network_key() if network else ncp._tc_link_key()
    status = OK if ncp.network is not None else bt.sl_Status.NOT_FOUND
    return {"status": status, "key": key, "context": context}


@handles("getNetworkKeyInfo")
def _get_network_key_info(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    formed = ncp.network is not None
    return {
        "status": OK,
        "networkkeyinfo": bt.SecurityManagerNetworkKeyInfo(
            network_key_set=formed,
            alternate_network_key_set=False,
            network_key_sequence_number=ncp.network.key_sequence if formed else 0,
            alt_network_key_sequence_number=0,
            network_key_frame_counter=0,
        ),
    }


@handles("getCurrentSecurityState")
def _get_current_security_state(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"status": OK, "state": ncp._current_security()}


@handles("findKeyTableEntry")
def _find_key_table_entry(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"index": 0xFF}


@handles("getKeyTableEntry", "exportLinkKeyByIndex", "getAddressTableInfo")
def _no_entry(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    """The key and address tables the host reads are empty: the emulation keeps no link keys
    (devices join with the well-known key) and resolves addresses itself."""
    return {"status": bt.sl_Status.NOT_FOUND}


@handles("getChildData")
def _no_child(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"status": bt.sl_Status.NOT_JOINED}


@handles("getAddressTableRemoteNodeId")
def _no_address(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"nodeid": 0xFFFF}


@handles("getAddressTableRemoteEui64")
def _no_address_eui64(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {}


@handles("eraseKeyTableEntry")
def _erase_key(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"status": OK}


@handles("setSourceRouteDiscoveryMode")
def _source_route_mode(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"remainingtime": 0}


@handles("getExtendedTimeout")
def _get_extended_timeout(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    return {"extendedtimeout": False}


@handles("lookupNodeIdByEui64")
def _lookup_node_id(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    if req["eui64"] == ncp.eui64:
        return {"nodeid": ncp.nwk}
    nwk = ncp._addresses.get(req["eui64"])
    if nwk is None:
        return {"status": bt.sl_Status.NOT_FOUND, "nodeid": 0xFFFF}
    return {"nodeid": nwk}


@handles("lookupEui64ByNodeId")
def _lookup_eui64(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    nwk = int(req["nodeid"])
    if nwk == ncp.nwk:
        return {"status": OK, "eui64": ncp.eui64}
    for ieee, address in ncp._addresses.items():
        if address == nwk:
            return {"status": OK, "eui64": ieee}
    return {"status": bt.sl_Status.NOT_FOUND, "eui64": zt.EUI64.UNKNOWN}


@handles("getMulticastTableEntry")
def _get_multicast(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    entry = ncp.multicast.get(int(req["index"]))
    if entry is None:
        entry = bt.EmberMulticastTableEntry(multicastId=0, endpoint=0, networkIndex=0)
    return {"status": OK, "value": entry}


@handles("setMulticastTableEntry")
def _set_multicast(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    ncp.multicast[int(req["index"])] = req["value"]
    return {"status": OK}


@handles("permitJoining")
def _permit_joining(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    if not ncp.up:
        return {"status": bt.sl_Status.NOT_JOINED}
    duration = int(req["duration"])
    ncp.permit_until = float("inf") if duration == 0xFF else ncp._now() + duration
    if ncp.on_permit is not None:
        ncp._then(lambda: ncp.on_permit(duration))  # type: ignore[misc]
    return {"status": OK}


@handles("sendUnicast")
def _send_unicast(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    if not ncp.up:
        return {"status": bt.sl_Status.NETWORK_DOWN, "sequence": 0}
    ncp.counters.unicasts += 1
    dst = zt.AddrModeAddress(addr_mode=zt.AddrMode.NWK, address=zt.NWK(int(req["nwk"])))
    sequence = ncp._send_to_air(
        kind=int(req["type"]), dst=dst, aps=req["aps"], tag=int(req["tag"]), message=req["message"]
    )
    return {"status": OK, "sequence": sequence}


@handles("sendBroadcast")
def _send_broadcast(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    if not ncp.up:
        return {"status": bt.sl_Status.NETWORK_DOWN, "sequence": 0}
    ncp.counters.broadcasts += 1
    address = zt.BroadcastAddress(int(req["destination"]))
    dst = zt.AddrModeAddress(addr_mode=zt.AddrMode.Broadcast, address=address)
    sequence = ncp._send_to_air(
        kind=OUTGOING_BROADCAST,
        dst=dst,
        aps=req["aps"],
        tag=int(req["tag"]),
        message=req["message"],
        radius=int(req["radius"]),
    )
    return {"status": OK, "sequence": sequence}


@handles("sendMulticast")
def _send_multicast(ncp: EzspNcp, req: dict[str, Any]) -> dict[str, Any]:
    if not ncp.up:
        return {"status": bt.sl_Status.NETWORK_DOWN, "sequence": 0}
    ncp.counters.broadcasts += 1
    aps = req["aps"]
    dst = zt.AddrModeAddress(addr_mode=zt.AddrMode.Group, address=zt.Group(aps.groupId))
    sequence = ncp._send_to_air(
        kind=OUTGOING_MULTICAST, dst=dst, aps=aps, tag=int(req["tag"]), message=req["message"]
    )
    return {"status": OK, "sequence": sequence}
