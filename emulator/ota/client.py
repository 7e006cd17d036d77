"""The OTA Upgrade client (cluster 0x0019, client side) as a sans-IO state machine.

This module owns the client's states, its one transition table, its attributes (spec §1.1) and
the decisions the spec (shared/spec/ota-cluster.md §2, EmberZNet as reference) asks for: what to
answer, what to download, when to retry, when to give up, when to activate. It is fed events
(`FrameReceived`, `TimerFired`, `PowerLost`, ...) with the current time and returns actions
(`Send`, `ArmTimer`, `WriteSlot`, `CommitRecord`, `Activate`, ...) for a driver to carry out.
It must never do I/O, read a clock, sleep, or draw randomness from anywhere but the `random.Random`
it was given; the driver owns sockets, flash and time.

Reading guide: `TRANSITIONS`, at the end of the module after the handlers it names, maps every
(state, trigger) the client reacts to onto a handler and the states that handler may leave the
client in; `IGNORED` lists every other pair with the reason it is ignored. Both are grouped by
state in spec §2.2's order. `OtaClient.handle` finds the pair's row, calls its handler with the
trigger's payload (the event itself, or a decoded frame as `Received`) and checks the handler
stayed inside its row. What the client tracks inside a state (the answer it awaits, error counts,
page mode, the download) is declared in one block of `OtaClient.__init__`. Frame guards apply
before the table in every powered state: an undecodable unicast frame gets a Default Response
naming the problem (MALFORMED_COMMAND, UNSUP_CLUSTER_COMMAND), and once UpgradeServerID is known
any command but Image Notify from another node gets Default Response NOT_AUTHORIZED (spec §2.3).

Misbehaviours (`ClientPolicy`'s knobs from `claimed_max_data_size` on: stalls, aborts, early
Upgrade Ends, shuffled or misaligned offsets, ...) are small named helpers called where a request
is about to go out (`_misbehave_before_request`, `_next_offset`) or a block comes in; with their
defaults the client is the well-behaved one, frame for frame.
"""

from __future__ import annotations

import enum
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zigpy.zcl.clusters.general import Ota

from emulator.errors import FrameError, ImageFormatError, TransitionError
from emulator.ota import frames
from emulator.ota.frames import NO_UPGRADE_TIME, Send, Status
from emulator.ota.image import parse_header
from emulator.ota.policy import (
    ActivationPolicy,
    ClientPolicy,
    CountdownMode,
    TimeoutPolicy,
    Verification,
)
from emulator.ota.verify import check_file

UNKNOWN_EUI64 = 0xFFFFFFFFFFFFFFFF
NO_VERSION = 0xFFFFFFFF
NO_IMAGE_TYPE = 0xFFFF
NO_STACK_VERSION = 0xFFFF
VERIFY_DELAY_S = 0.01
"""EmberZNet verifies in chunks every VERIFY_DELAY_MS (10 ms); one step here."""

#: Image Block Response statuses with which a server ends a download (EmberZNet: ABORT and
#: NO_IMAGE_AVAILABLE; UNSUP_CLUSTER_COMMAND too, outside page mode). Any other status but
#: SUCCESS and WAIT_FOR_DATA is unknown: answered INVALID_VALUE, the download goes on.
_SERVER_ENDS_DOWNLOAD = frozenset(
    {Status.ABORT, Status.NO_IMAGE_AVAILABLE, Status.UNSUP_CLUSTER_COMMAND}
)

# Broadcast Image Notify payload lengths by payload type (spec §1.4).
_NOTIFY_LENGTHS = {0: 2, 1: 4, 2: 6, 3: 10}


class State(enum.Enum):
    """EmberZNet's `ota-client` states (spec §2.2), in its order, plus OFF (no power).

    EmberZNet's enum also has OBTAIN_LINK_KEY, which its code never records; the partner link
    key is the network layer's business, done between ServerFound and ServerEuiResolved."""

    OFF = "off"
    NONE = "none"
    DELAY = "delay"
    DISCOVER_SERVER = "discover-server"
    GET_SERVER_EUI = "get-server-eui"
    QUERY_NEXT_IMAGE = "query-next-image"
    DOWNLOAD = "download"
    VERIFY_IMAGE = "verify-image"
    WAITING_FOR_UPGRADE_MESSAGE = "waiting-for-upgrade-message"
    COUNTDOWN_TO_UPGRADE = "countdown-to-upgrade"
    UPGRADE_VIA_OUT_OF_BAND = "upgrade-via-out-of-band"

    # Members are singletons compared by identity: hashing them by identity too keeps the
    # table's lookups (twice per event) in C instead of Enum's hash of the member's name.
    __hash__ = object.__hash__


_UpgradeStatus = Ota.ImageUpgradeStatus

#: ImageUpgradeStatus (attribute 0x0006) reported in each state (spec §2.2).
IMAGE_UPGRADE_STATUS: dict[State, Ota.ImageUpgradeStatus] = {
    State.OFF: _UpgradeStatus.Normal,
    State.NONE: _UpgradeStatus.Normal,
    State.DELAY: _UpgradeStatus.Normal,
    State.DISCOVER_SERVER: _UpgradeStatus.Normal,
    State.GET_SERVER_EUI: _UpgradeStatus.Normal,
    State.QUERY_NEXT_IMAGE: _UpgradeStatus.Normal,
    State.DOWNLOAD: _UpgradeStatus.Download_in_progress,
    State.VERIFY_IMAGE: _UpgradeStatus.Download_complete,
    State.WAITING_FOR_UPGRADE_MESSAGE: _UpgradeStatus.Waiting_to_upgrade,
    State.COUNTDOWN_TO_UPGRADE: _UpgradeStatus.Count_down,
    State.UPGRADE_VIA_OUT_OF_BAND: _UpgradeStatus.Waiting_to_Upgrade_via_External_Event,
}

#: The policy modes as the client reports them (attributes 0x000B and 0x000C, spec §1.2).
ZCL_ACTIVATION_POLICY = {
    ActivationPolicy.SERVER: Ota.UpgradeActivationPolicy.OTA_server_allowed,
    ActivationPolicy.OUT_OF_BAND: Ota.UpgradeActivationPolicy.Out_of_band_allowed,
}
ZCL_TIMEOUT_POLICY = {
    TimeoutPolicy.APPLY: Ota.UpgradeTimeoutPolicy.Apply_after_timeout,
    TimeoutPolicy.DO_NOT_APPLY: Ota.UpgradeTimeoutPolicy.Do_not_apply_after_timeout,
}


class Trigger(enum.Enum):
    """What can happen to a client: one per event type, one per received OTA command."""

    POWER_RESTORED = "power-restored"
    POWER_LOST = "power-lost"
    START = "start"
    TIMER = "timer"
    SERVER_FOUND = "server-found"
    DISCOVERY_FAILED = "discovery-failed"
    SERVER_EUI = "server-eui"
    OUT_OF_BAND_ACTIVATE = "out-of-band-activate"
    ACTIVATION_FAILED = "activation-failed"
    IMAGE_NOTIFY = "image_notify"
    QUERY_NEXT_IMAGE_RESPONSE = "query_next_image_response"
    IMAGE_BLOCK_RESPONSE = "image_block_response"
    UPGRADE_END_RESPONSE = "upgrade_end_response"
    QUERY_SPECIFIC_FILE_RESPONSE = "query_specific_file_response"
    DEFAULT_RESPONSE = "default_response"

    __hash__ = object.__hash__  # as `State`'s


#: The trigger of each received command, by its name (a frame's `name`).
_FRAME_TRIGGERS: dict[str, Trigger] = {trigger.value: trigger for trigger in Trigger}


# ---------------------------------------------------------------------------------------------
# Events (in) and actions (out)


@dataclass(frozen=True, slots=True)
class DownloadRecord:
    """What flash keeps about the download slot: enough to resume or re-verify after power loss."""

    manufacturer_id: int
    image_type: int
    file_version: int
    image_size: int
    file_offset: int
    stack_version: int = NO_STACK_VERSION

    @property
    def complete(self) -> bool:
        return self.file_offset >= self.image_size


@dataclass(frozen=True, slots=True)
class PowerRestored:
    """Boot: the running image's version and stamp, and what flash holds about the download
    slot."""

    current_file_version: int
    record: DownloadRecord | None = None
    slot: bytes = b""
    image_stamp: int | None = None
    """ImageStamp of the running image (`image_stamp` of its bytes), read at boot as EmberZNet
    reads its application's stamp at init; None: the driver does not know it, and the client
    reports `ClientIdentity.image_stamp`."""


@dataclass(frozen=True, slots=True)
class PowerLost:
    pass


@dataclass(frozen=True, slots=True)
class Start:
    """The network is up (EmberZNet: stack status NETWORK_UP with auto-start)."""


@dataclass(frozen=True, slots=True)
class TimerFired:
    token: int


@dataclass(frozen=True, slots=True)
class ServerFound:
    """First answer to the Match_Desc broadcast: the server's node address."""

    address: int


@dataclass(frozen=True, slots=True)
class DiscoveryFailed:
    pass


@dataclass(frozen=True, slots=True)
class ServerEuiResolved:
    eui64: int


@dataclass(frozen=True, slots=True)
class OutOfBandActivate:
    """The out-of-band mechanism (e.g. a GB CS06 command) says: activate the waiting image."""


@dataclass(frozen=True, slots=True)
class ActivationFailed:
    """The bootloader refused the image (EmberZNet: the bootload callback returned)."""


@dataclass(frozen=True, slots=True)
class FrameReceived:
    """ZCL bytes of cluster 0x0019 from node `src`; `broadcast` if sent to a broadcast address."""

    data: bytes
    src: int
    broadcast: bool = False


_NonFrameEvent = (
    PowerRestored
    | PowerLost
    | Start
    | TimerFired
    | ServerFound
    | DiscoveryFailed
    | ServerEuiResolved
    | OutOfBandActivate
    | ActivationFailed
)
"""Every event but a received frame (a handler gets these as they are)."""
Event = _NonFrameEvent | FrameReceived

#: The trigger of each event but `TimerFired` (TIMER) and `FrameReceived` (its command's name).
_EVENT_TRIGGERS: dict[type, Trigger] = {
    PowerRestored: Trigger.POWER_RESTORED,
    PowerLost: Trigger.POWER_LOST,
    Start: Trigger.START,
    ServerFound: Trigger.SERVER_FOUND,
    DiscoveryFailed: Trigger.DISCOVERY_FAILED,
    ServerEuiResolved: Trigger.SERVER_EUI,
    OutOfBandActivate: Trigger.OUT_OF_BAND_ACTIVATE,
    ActivationFailed: Trigger.ACTIVATION_FAILED,
}


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """(Re)arm the client's one timer; a `TimerFired` with another token is stale."""

    delay: float
    token: int


@dataclass(frozen=True, slots=True)
class CancelTimer:
    pass


@dataclass(frozen=True, slots=True)
class WriteSlot:
    """Write `data` at `offset` of the download slot (not yet committed)."""

    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CommitRecord:
    """Atomically replace the slot's record (None: the slot holds nothing worth keeping)."""

    record: DownloadRecord | None


@dataclass(frozen=True, slots=True)
class Activate:
    """Boot the image in the download slot; the driver reboots the client afterwards."""

    file_version: int


@dataclass(frozen=True, slots=True)
class DiscoverServer:
    """Broadcast ZDO Match_Desc for an OTA server (the network layer answers with events)."""


@dataclass(frozen=True, slots=True)
class ResolveServerEui:
    address: int


class OutcomeKind(enum.StrEnum):
    """Where a device's firmware update came to (the client says the last three itself)."""

    ACTIVATED = "activated"
    DOWNLOADED = "downloaded"
    REJECTED = "rejected"
    NO_IMAGE = "no-image"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A download came to an end short of activation: "rejected", "failed" or "no-image"."""

    kind: OutcomeKind
    reason: str | None = None


Action = (
    Send
    | ArmTimer
    | CancelTimer
    | WriteSlot
    | CommitRecord
    | Activate
    | DiscoverServer
    | ResolveServerEui
    | Outcome
)


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Who the client is on the wire."""

    manufacturer_id: int
    image_type: int
    ieee: int = 0x0000000000000001
    stack_version: int = 0x0002
    image_stamp: int = 0
    """ImageStamp reported when boot does not give the running image's (`PowerRestored`)."""


def image_stamp(running: bytes) -> int:
    """ImageStamp (attribute 0x000A) of a running image: CRC-32 of its whole OTA file.

    The spec digest (§1.1) makes it the "manufacturer-specific stamp of the running image", and
    EmberZNet agrees: it writes the attribute once at init from the running application's
    address-table image stamp, never from the image being downloaded. How the stamp is computed is
    manufacturer-specific (the digest names no algorithm); hanemu's devices use CRC-32 so that
    two builds of one file version still differ."""
    return zlib.crc32(running)


Verifier = Callable[[bytes], "tuple[bool, str | None]"]


def verifier_for(
    *,
    format: str = "auto",
    supplier_public_key: Any = None,
    expected_hash: bytes | None = None,
) -> Verifier:
    """A verification hook over the project's file checks: Image Integrity Code, SE signature
    structure, and for GB images the supplier signature and Manufacturer Image hash (with the
    key material a device holds)."""

    def verify(data: bytes) -> tuple[bool, str | None]:
        report = check_file(
            data,
            format=format,
            supplier_public_key=supplier_public_key,
            expected_hash=expected_hash,
        )
        return report.ok, report.reason

    return verify


default_verifier = verifier_for()
"""What `verification = "auto"` checks when no other hook is given."""


# ---------------------------------------------------------------------------------------------
# What the table holds


@dataclass(frozen=True, slots=True)
class Received:
    """A received OTA command that passed the frame guards: the payload of a frame trigger."""

    event: FrameReceived
    frame: frames.Frame

    @property
    def command(self) -> Any:
        """zigpy's command object (fields by zigpy's names)."""
        return self.frame.command


Payload = _NonFrameEvent | Received
"""What a handler is given: the event, except that a frame arrives decoded, as `Received`."""

Handler = Callable[["OtaClient", Any], None]
"""A transition's handler, called with the client and the trigger's payload (one `Payload` type
per trigger: `TimerFired` for TIMER, `Received` for a command, the event's own type otherwise)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One transition: the handler to run and every state it may leave the client in."""

    handler: Handler
    targets: frozenset[State]


def _row(handler: Handler, *targets: State) -> Row:
    return Row(handler, frozenset(targets))


S = State
T = Trigger
#: States in which a server has been selected (the NOT_AUTHORIZED guard applies).
_SERVER_KNOWN = (
    S.QUERY_NEXT_IMAGE,
    S.DOWNLOAD,
    S.VERIFY_IMAGE,
    S.WAITING_FOR_UPGRADE_MESSAGE,
    S.COUNTDOWN_TO_UPGRADE,
    S.UPGRADE_VIA_OUT_OF_BAND,
)


# ---------------------------------------------------------------------------------------------
# The machine


@dataclass(slots=True)
class _Download:
    """The image on its way: what the server offered, the bytes so far, the page being asked."""

    manufacturer_id: int
    image_type: int
    file_version: int
    image_size: int
    data: bytearray
    stack_version: int = NO_STACK_VERSION
    page_start: int | None = None
    """Where the page being fetched starts; None between pages (and outside page mode)."""
    page_end: int = 0
    """Where that page ends: its start plus PageSize, at most the image size."""
    kept: dict[int, bytes] = field(default_factory=dict)
    """Blocks of that page that came past a gap, by offset: stored once the gap is filled."""
    filling: bool = False
    """The page's train is over: its missing blocks are asked one Image Block Request at a time
    (EmberZNet's RETRY_MISSED_PACKETS)."""
    blocks: int = 0
    """Blocks taken since this download started or resumed (the misbehaviours count them)."""
    misbehaved: set[str] = field(default_factory=set)
    """The once-per-download misbehaviours already done, by knob name."""
    order: list[int] | None = None
    """With `shuffle_offsets`: the offsets still to ask, drawn from the client's RNG (popped from
    the end); None until the first request."""
    again: int | None = None
    """With `fail_block_after`: the offset to ask again next, after a block treated as failed."""

    def end_page(self) -> None:
        """Forget the page being fetched (and the blocks kept past its gaps)."""
        self.page_start = None
        self.kept.clear()
        self.filling = False


@dataclass(slots=True)
class Transition:
    """One recorded state change, for logs and reports."""

    time: float
    old: State
    new: State
    trigger: Trigger


class OtaClient:
    """One OTA client. Start it with `PowerRestored` then `Start`; feed events to `handle`."""

    def __init__(
        self,
        identity: ClientIdentity,
        policy: ClientPolicy | None = None,
        *,
        rng: random.Random,
        verifier: Verifier | None = None,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self.identity = identity
        self.policy = policy or ClientPolicy()
        self.rng = rng
        if verifier is None and self.policy.verification is Verification.AUTO:
            verifier = default_verifier
        self.verifier = verifier
        self.on_transition = on_transition
        # The state model: changed only by the handlers `TRANSITIONS` names.
        self.state = State.OFF
        # Attributes (spec §1.1), by zigpy's names where they are stored.
        self.upgrade_server_id = UNKNOWN_EUI64
        self.file_offset = NO_VERSION
        self.current_file_version = NO_VERSION
        self.downloaded_file_version = NO_VERSION
        self.downloaded_zigbee_stack_version = NO_STACK_VERSION
        self.image_type_id = NO_IMAGE_TYPE
        self.minimum_block_period = 0
        self.image_stamp = identity.image_stamp
        # Extra bits of state that don't quite fit into the state model: where the client is
        # inside its state. With the attributes above, this is everything the client remembers;
        # `_on_power_restored` resets what a reboot loses.
        self.server_address: int | None = None
        """Node address of the selected OTA server; None until discovery finds one."""
        self.last_reason: str | None = None
        """Why the last download ended short of activation (as in its `Outcome`)."""
        self.retries = 0
        """Image Block/Page Requests sent again for an offset already asked for."""
        self._download: _Download | None = None
        """The image being downloaded, verified or waiting to activate; None: no OTA running."""
        self._record: DownloadRecord | None = None
        """The slot record last committed to flash, or found there at boot."""
        self._slot = b""
        """Slot bytes found at boot, kept until the server is known and the download resumes."""
        self._token = 0
        """Token of the one armed timer; a `TimerFired` with another token is stale."""
        self._tsn = rng.randrange(256)
        """ZCL sequence number of the last command sent."""
        self._awaiting = False
        """A query, block/page request or Upgrade End Request is out, its answer not yet in."""
        self._stale_seen = False
        """A block for another offset came while awaiting: ask again at once, no error counted."""
        self._progressed = False
        """A block was stored or kept since the last block/page request went out."""
        self._page_mode = False
        """Downloading with Image Page Requests (dropped when the server has no page support)."""
        self._errors = 0
        """Consecutive failures in this state: unanswered requests, unusable query answers."""
        self._discovering = False
        """A Match_Desc for the server is out, its result (ServerFound, DiscoveryFailed) not in."""
        self._asked: int | None = None
        """FileOffset of the last Image Block/Page Request sent (the misbehaviours may ask
        somewhere else than FileOffset)."""
        # What the event being handled asks the driver to do (`handle` returns it).
        self._actions: list[Action] = []

    # -- the one entry point ---------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Action]:
        """Feed one event at time `now`; returns what the driver must do, in order."""
        self._actions = actions = []
        payload: Payload
        if isinstance(event, FrameReceived):
            if self.state is State.OFF:
                return actions
            received = self._decode(event)
            if received is None:
                return actions
            trigger = _FRAME_TRIGGERS.get(received.frame.name) or Trigger(received.frame.name)
            payload = received
        elif isinstance(event, TimerFired):
            if event.token != self._token:
                return actions
            trigger = Trigger.TIMER
            payload = event
        else:
            trigger = _EVENT_TRIGGERS[type(event)]
            payload = event
        row = TRANSITIONS.get((self.state, trigger))
        if row is None:
            if (self.state, trigger) not in IGNORED:
                raise TransitionError(f"no row for {trigger.name} in {self.state.name}")
            if isinstance(payload, Received):
                self._refuse_ignored(payload)
            return actions
        old = self.state
        row.handler(self, payload)
        if self.state not in row.targets:
            raise TransitionError(
                f"{row.handler.__name__} moved {old.name} to {self.state.name} on {trigger.name}"
            )
        if self.state is not old and self.on_transition is not None:
            self.on_transition(Transition(now, old, self.state, trigger))
        return actions

    # -- attributes ------------------------------------------------------------------------------

    @property
    def image_upgrade_status(self) -> Ota.ImageUpgradeStatus:
        return IMAGE_UPGRADE_STATUS[self.state]

    def attributes(self) -> dict[str, int]:
        """The OTA client attributes (spec §1.1) by zigpy's attribute names."""
        return {
            "upgrade_server_id": self.upgrade_server_id,
            "file_offset": self.file_offset,
            "current_file_version": self.current_file_version,
            "current_zigbee_stack_version": self.identity.stack_version,
            "downloaded_file_version": self.downloaded_file_version,
            "downloaded_zigbee_stack_version": self.downloaded_zigbee_stack_version,
            "image_upgrade_status": self.image_upgrade_status,
            "manufacturer_id": self.identity.manufacturer_id,
            "image_type_id": self.image_type_id,
            "minimum_block_req_delay": self.minimum_block_period,
            "image_stamp": self.image_stamp,
            "upgrade_activation_policy": ZCL_ACTIVATION_POLICY[self.policy.activation_policy],
            "upgrade_timeout_policy": ZCL_TIMEOUT_POLICY[self.policy.timeout_policy],
            "cluster_revision": self.policy.cluster_revision,
        }

    # -- helpers ---------------------------------------------------------------------------------

    def _arm(self, delay: float) -> None:
        self._token += 1
        self._actions.append(ArmTimer(max(0.0, delay), self._token))

    def _cancel(self) -> None:
        self._token += 1
        self._actions.append(CancelTimer())

    def _next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) & 0xFF
        return self._tsn

    def _send(self, name: str, **fields: Any) -> None:
        """Send a request to the server (every command a client sends is one)."""
        self._send_bytes(frames.encode(name, self._next_tsn(), **fields))

    def _send_bytes(self, data: bytes) -> None:
        assert self.server_address is not None
        p = self.policy
        send = Send(data, self.server_address, p.request_delay_ms / 1000)
        self._actions.append(send)
        if p.duplicate_requests:
            self._actions.append(send)

    def _arm_answer(self, delay: float) -> None:
        """Wait `delay` for the answer to a request just sent (from when it leaves)."""
        self._arm(delay + self.policy.request_delay_ms / 1000)

    def _default_response(self, rx: Received, status: Status) -> None:
        """Default Response to a received command (never to a broadcast or a Default Response)."""
        if rx.event.broadcast or rx.frame.name == frames.DEFAULT_RESPONSE:
            return
        self._default_response_raw(rx.event.src, rx.frame.header, status)

    def _default_response_raw(self, dst: int, header: Any, status: Status) -> None:
        data = frames.encode_default_response(header.tsn, header.command_id, status, frames.C2S)
        self._actions.append(Send(data, dst))

    def _decode(self, event: FrameReceived) -> Received | None:
        """Decode and apply the frame guards; None when the frame goes no further."""
        try:
            frame = frames.decode(event.data)
        except FrameError as exc:
            header = exc.header
            if (
                header is not None
                and not event.broadcast
                and not header.is_default_response
                and header.direction == frames.S2C
            ):
                self._default_response_raw(event.src, header, exc.status)
            return None
        if frame.direction != frames.S2C:
            return None  # a client->server command is not for a client
        rx = Received(event, frame)
        if (
            self.server_address is not None
            and self.state in _SERVER_KNOWN
            and event.src != self.server_address
            and frame.name != "image_notify"
        ):
            self._default_response(rx, Status.NOT_AUTHORIZED)
            return None
        return rx

    def _refuse_ignored(self, rx: Received) -> None:
        """EmberZNet: a command invalid for the state is ignored, FAILURE if unicast."""
        if rx.frame.name == frames.DEFAULT_RESPONSE or self.state in (
            S.NONE,
            S.DISCOVER_SERVER,
            S.GET_SERVER_EUI,
        ):
            return
        self._default_response(rx, Status.FAILURE)

    def _enter(self, state: State) -> None:
        self.state = state

    def _commit(self, record: DownloadRecord | None) -> None:
        self._record = record
        self._actions.append(CommitRecord(record))

    def _record_now(self) -> DownloadRecord:
        d = self._download
        assert d is not None
        return DownloadRecord(
            d.manufacturer_id,
            d.image_type,
            d.file_version,
            d.image_size,
            self.file_offset,
            d.stack_version,
        )

    def _forget_download(self) -> None:
        """No OTA in progress: attributes back to their idle values, slot emptied."""
        self._download = None
        self.downloaded_file_version = NO_VERSION
        self.downloaded_zigbee_stack_version = NO_STACK_VERSION
        self.image_type_id = NO_IMAGE_TYPE
        self.file_offset = NO_VERSION
        self._commit(None)

    def _to_query(self) -> None:
        """Back to querying, after the query delay (EmberZNet)."""
        self._enter(S.QUERY_NEXT_IMAGE)
        self._awaiting = False
        self._errors = 0
        self._arm(self.policy.query_interval_s)

    # -- power and start -------------------------------------------------------------------------

    def _on_power_restored(self, event: PowerRestored) -> None:
        self.current_file_version = event.current_file_version
        self.image_stamp = (
            self.identity.image_stamp if event.image_stamp is None else event.image_stamp
        )
        self._record = event.record
        self._slot = event.slot
        self.upgrade_server_id = UNKNOWN_EUI64
        self.server_address = None
        self._download = None
        self._awaiting = False
        self._errors = 0
        self._discovering = False
        self.minimum_block_period = 0
        self._page_mode = self.policy.use_page_requests
        record = event.record
        if record is not None and record.file_version != event.current_file_version:
            self.downloaded_file_version = record.file_version
            self.downloaded_zigbee_stack_version = record.stack_version
            self.image_type_id = record.image_type
            self.file_offset = record.file_offset
        else:
            self.downloaded_file_version = NO_VERSION
            self.downloaded_zigbee_stack_version = NO_STACK_VERSION
            self.image_type_id = NO_IMAGE_TYPE
            self.file_offset = NO_VERSION
        self._enter(S.NONE)

    def _on_power_lost(self, _event: PowerLost) -> None:
        self._token += 1  # every armed timer is dead
        self._download = None
        self._enter(S.OFF)

    def _on_start(self, _event: Start) -> None:
        self._enter(S.DELAY)
        p = self.policy
        self._arm(self.rng.randint(p.start_delay_min_s, p.start_delay_max_s))

    def _on_discover(self, _payload: TimerFired) -> None:
        """The start delay ran out, or the last discovery or EUI64 lookup went unanswered: look
        for a server."""
        self._discover()

    def _on_notify_before_server(self, rx: Received) -> None:
        """An Image Notify before a server is selected: the server wants clients to upgrade, so
        look for it now (EmberZNet commandParse; spec §1.6.6, §2.3 DELAY row). In NONE and DELAY
        any notify starts discovery at once (`sl_zigbee_af_ota_client_start_cb`, called before
        the notify is checked); in DISCOVER_SERVER it starts discovery again instead of waiting
        out the server-discovery delay, unless a discovery is still in progress ("prevented -
        another is already in progress"). A unicast one gets Default Response SUCCESS."""
        if not rx.frame.disable_default_response:
            self._default_response(rx, Status.SUCCESS)
        if self.state is S.DISCOVER_SERVER and self._discovering:
            return
        self._discover()

    def _discover(self) -> None:
        self.upgrade_server_id = UNKNOWN_EUI64
        self.server_address = None
        self._enter(S.DISCOVER_SERVER)
        self._discovering = True
        self._actions.append(DiscoverServer())
        self._arm(self.policy.server_discovery_delay_s)

    def _on_discovery_failed(self, _event: DiscoveryFailed) -> None:
        self._discovering = False
        self._arm(self.policy.server_discovery_delay_s)

    def _on_server_found(self, event: ServerFound) -> None:
        self._discovering = False
        self.server_address = event.address
        self._enter(S.GET_SERVER_EUI)
        self._actions.append(ResolveServerEui(event.address))
        self._arm(self.policy.message_timeout_ms / 1000)

    def _on_server_eui(self, event: ServerEuiResolved) -> None:
        """EmberZNet `determineNextState()`: resume, re-verify, or query (spec §2.5)."""
        self.upgrade_server_id = event.eui64
        record = self._record
        if record is not None and record.file_version != self.current_file_version:
            data = bytearray(record.image_size)
            kept = self._slot[: min(record.file_offset, record.image_size)]
            data[: len(kept)] = kept
            self._download = _Download(
                record.manufacturer_id,
                record.image_type,
                record.file_version,
                record.image_size,
                data,
                record.stack_version,
            )
            self._slot = b""
            if record.complete:
                self._enter_verify()
            else:
                self._enter(S.DOWNLOAD)
                self._errors = 0
                self._request_block()
            return
        self._slot = b""
        self._enter(S.QUERY_NEXT_IMAGE)
        self._errors = 0
        self._send_query()

    # -- query -----------------------------------------------------------------------------------

    def _send_query(self) -> None:
        hw = self.policy.hardware_version
        self._send(
            "query_next_image",
            field_control=0 if hw is None else 1,
            manufacturer_code=self.identity.manufacturer_id,
            image_type=self.identity.image_type,
            current_file_version=self.current_file_version,
            hardware_version=hw,
        )
        self._awaiting = True
        self._arm_answer(self.policy.message_timeout_ms / 1000)

    def _on_query_timer(self, _event: TimerFired) -> None:
        if self._awaiting:
            self._errors += 1
            if self._errors >= self.policy.query_error_threshold:
                self._awaiting = False
                self._errors = 0
                self._discover()
                return
        self._send_query()

    def _query_error(self, rx: Received, status: Status) -> None:
        self._default_response(rx, status)
        self._awaiting = False
        self._errors += 1
        if self._errors >= self.policy.query_error_threshold:
            self._errors = 0
            self._discover()
        else:
            self._arm(self.policy.query_interval_s)

    def _on_image_notify(self, rx: Received) -> None:
        frame, cmd = rx.frame, rx.command
        if rx.event.broadcast:
            payload_type = int(cmd.payload_type)
            if _NOTIFY_LENGTHS.get(payload_type) != frame.payload_length:
                return
            if not 1 <= cmd.query_jitter <= 100:
                return
            if payload_type >= 1 and cmd.manufacturer_code != self.identity.manufacturer_id:
                return
            if payload_type >= 2 and cmd.image_type != self.identity.image_type:
                return
            if payload_type >= 3 and cmd.new_file_version == self.current_file_version:
                return
            if self.rng.randint(1, 100) > cmd.query_jitter:
                return
        elif not frame.disable_default_response:
            self._default_response(rx, Status.SUCCESS)
        self._errors = 0
        self._send_query()

    def _on_query_default_response(self, rx: Received) -> None:
        """A failing Default Response to the query ends the wait, as "no image" does. SUCCESS is
        no answer: EmberZNet's default-response callback ignores every SUCCESS ("successful
        responses will send a non-default response message"), so the query stays out and times
        out as usual."""
        cmd = rx.command
        if cmd.status == Status.SUCCESS:
            return
        if self._awaiting and cmd.command_id == frames.command_id("query_next_image"):
            self._awaiting = False
            self._arm(self.policy.query_interval_s)

    def _on_query_response(self, rx: Received) -> None:
        if not self._awaiting:
            return  # a duplicate or late answer to a query already dealt with
        cmd = rx.command
        p = self.policy
        if cmd.status != Status.SUCCESS:
            self._awaiting = False
            self._errors = 0
            self._actions.append(Outcome(OutcomeKind.NO_IMAGE, _status_name(cmd.status)))
            self._arm(p.query_interval_s)
            return
        if (
            cmd.manufacturer_code != self.identity.manufacturer_id
            or cmd.image_type != self.identity.image_type
            or cmd.image_size == 0
        ):
            self._query_error(rx, Status.INVALID_FIELD)
            return
        if cmd.image_size > p.storage_size:
            # Refused at once: the same offer will never fit, so the device says so.
            self._query_error(rx, Status.INSUFFICIENT_SPACE)
            self._actions.append(
                Outcome(
                    OutcomeKind.REJECTED,
                    f"INSUFFICIENT_SPACE: image of {cmd.image_size} bytes, "
                    f"storage of {p.storage_size}",
                )
            )
            return
        self._awaiting = False
        self._errors = 0
        if cmd.file_version == self.current_file_version:
            self._actions.append(
                Outcome(OutcomeKind.NO_IMAGE, "offered version is already running")
            )
            self._arm(p.query_interval_s)
            return
        if cmd.file_version < self.current_file_version and not p.allow_downgrade:
            self._send(
                "upgrade_end",
                status=Status.INVALID_IMAGE,
                manufacturer_code=cmd.manufacturer_code,
                image_type=cmd.image_type,
                file_version=cmd.file_version,
            )
            self.last_reason = "INVALID_IMAGE: downgrade refused"
            self._actions.append(Outcome(OutcomeKind.REJECTED, self.last_reason))
            self._arm(p.query_interval_s)
            return
        self._download = _Download(
            int(cmd.manufacturer_code),
            int(cmd.image_type),
            int(cmd.file_version),
            int(cmd.image_size),
            bytearray(int(cmd.image_size)),
        )
        self.downloaded_file_version = int(cmd.file_version)
        self.downloaded_zigbee_stack_version = NO_STACK_VERSION
        self.image_type_id = int(cmd.image_type)
        self.file_offset = 0
        self.minimum_block_period = 0
        self._page_mode = p.use_page_requests
        self._commit(self._record_now())
        self._enter(S.DOWNLOAD)
        self._request_block()

    # -- download --------------------------------------------------------------------------------

    def _request_block(self) -> None:
        d = self._download
        assert d is not None
        p = self.policy
        if not self._misbehave_before_request(d):
            return
        send_addr = p.send_node_address
        offset = self._next_offset(d)
        mfg = _either(p.block_manufacturer_id, d.manufacturer_id)
        itype = _either(p.block_image_type, d.image_type)
        size = self._asked_size
        node = frames.eui64(self.identity.ieee) if send_addr else None
        self._asked = offset
        self._awaiting = True
        self._stale_seen = False
        self._progressed = False
        if self._page_mode and (
            d.page_start is None or (self.file_offset == d.page_start and not d.kept)
        ):
            # A new page, or the last one brought nothing: ask for the whole page.
            self._send(
                "image_page",
                field_control=1 if send_addr else 0,
                page_size=p.page_size,
                response_spacing=p.response_spacing_ms,
                manufacturer_code=mfg,
                image_type=itype,
                file_version=d.file_version,
                file_offset=offset,
                maximum_data_size=size,
                request_node_addr=node,
            )
            d.end_page()
            d.page_start = self.file_offset
            d.page_end = min(d.image_size, self.file_offset + p.page_size)
            self._arm_answer(p.page_timeout_s)
            return
        if self._page_mode:
            # EmberZNet after a page: ask for the first missing bytes only, up to the next block
            # kept past the gap (or the page's end), with an Image Block Request.
            d.filling = True
            gap_end = min((o for o in d.kept if o > self.file_offset), default=d.page_end)
            size = min(size, gap_end - self.file_offset)
        send_period = p.send_min_block_period
        self._send_bytes(
            frames.encode_image_block(
                self._next_tsn(),
                (1 if send_addr else 0) | (2 if send_period else 0),
                mfg,
                itype,
                d.file_version,
                offset,
                size,
                self.minimum_block_period if send_period else None,
                node,
            )
        )
        self._arm_answer(p.message_timeout_ms / 1000)

    # -- misbehaviours (ClientPolicy's knobs; each default behaves) ------------------------------

    @property
    def _asked_size(self) -> int:
        """The MaximumDataSize this client writes in its requests."""
        return _either(self.policy.claimed_max_data_size, self.policy.max_data_size)

    @property
    def _largest_block(self) -> int:
        """The largest block this client takes: what it can hold, or what it claimed."""
        return max(self.policy.max_data_size, self.policy.claimed_max_data_size or 0)

    def _once(self, d: _Download, knob: str, after_blocks: int | None) -> bool:
        """Whether the misbehaviour `knob` is due now (after `after_blocks` blocks, once per
        download); it counts as done from here."""
        if after_blocks is None or d.blocks < after_blocks or knob in d.misbehaved:
            return False
        d.misbehaved.add(knob)
        return True

    def _misbehave_before_request(self, d: _Download) -> bool:
        """What a misbehaving client does when its next request is due; False when no request
        follows (it gave up or stalls)."""
        p = self.policy
        if (
            p.abort_after_blocks is None
            and p.stop_after_blocks is None
            and p.upgrade_end_after_blocks is None
            and p.malformed_request_after_blocks is None
        ):
            return True  # a well-behaved client: none of the knobs below is set
        if self._once(d, "abort_after_blocks", p.abort_after_blocks):
            self._client_abort(f"ABORT: sent after {d.blocks} blocks (abort_after_blocks)")
            return False
        if p.stop_after_blocks is not None and d.blocks >= p.stop_after_blocks:
            self._awaiting = False  # stalled: no request and no timer, until power is lost
            self._cancel()
            return False
        if self._once(d, "upgrade_end_after_blocks", p.upgrade_end_after_blocks):
            self._send_end(self._end_status(Status.SUCCESS))
        if self._once(d, "malformed_request_after_blocks", p.malformed_request_after_blocks):
            whole = frames.encode(
                "image_block",
                self._next_tsn(),
                field_control=0,
                manufacturer_code=d.manufacturer_id,
                image_type=d.image_type,
                file_version=d.file_version,
                file_offset=self.file_offset,
                maximum_data_size=self._asked_size,
            )
            self._send_bytes(whole[: _ZCL_HEADER + _MALFORMED_PAYLOAD])
        return True

    def _next_offset(self, d: _Download) -> int:
        """Where the next block request asks: FileOffset, unless a misbehaviour says otherwise
        (block requests only; a page request always starts at FileOffset)."""
        p = self.policy
        if d.again is not None:
            offset, d.again = d.again, None
            return offset
        if self._page_mode:
            return self.file_offset
        if p.shuffle_offsets:
            if d.order is None:
                step = max(1, min(self._asked_size, _SHUFFLE_STEP_CAP))
                d.order = list(range(self.file_offset, d.image_size, step))
                self.rng.shuffle(d.order)
            while d.order:
                offset = d.order.pop()
                if offset >= self.file_offset and offset not in d.kept:
                    return offset
            return self.file_offset
        if p.misaligned_offset and d.blocks >= 1 and "misaligned_offset" not in d.misbehaved:
            d.misbehaved.add("misaligned_offset")
            return min(max(0, self.file_offset + p.misaligned_offset), d.image_size - 1)
        return self.file_offset

    def _fails_block(self, d: _Download, offset: int) -> bool:
        """`fail_block_after`: treat this block as failed (dropped; in block mode the same
        offset is asked again at once, in page mode it is a gap the page's fill asks for). Only
        a block the client would take counts: a late or duplicated one is not "the" response."""
        paging = self._page_mode and d.page_start is not None
        if offset != self._asked and not paging:
            return False
        if not self._once(d, "fail_block_after", self.policy.fail_block_after):
            return False
        if self._page_mode and d.page_start is not None:
            return True
        self.retries += 1
        d.again = offset
        self._awaiting = False
        self._request_block()
        return True

    def _take_asked(self, offset: int, data: bytes) -> bool:
        """A block at the offset a shuffled or misaligned request asked for, not at FileOffset:
        keep it (past FileOffset) or store its new bytes (overlapping FileOffset). False when it
        brings nothing, or when no such misbehaviour is on (a well-behaved client asks only at
        FileOffset, and ignores every other block)."""
        p = self.policy
        d = self._download
        assert d is not None
        if not (p.shuffle_offsets or p.misaligned_offset) or offset != self._asked:
            return False
        if offset > self.file_offset and offset not in d.kept:
            d.kept[offset] = data
            d.blocks += 1
            self._progressed = True
            self._errors = 0
            self._next_request()
            return True
        if offset < self.file_offset < offset + len(data):
            self._store_block(data[self.file_offset - offset :])
            return True
        return False

    def _end_status(self, verdict: Status) -> Any:
        """The status of an Upgrade End Request about a download: the client's verdict, or
        `upgrade_end_status`."""
        status = self.policy.upgrade_end_status
        return verdict if status is None else status

    def _block_period_s(self) -> float:
        p = self.policy
        if not self.minimum_block_period:  # no period from the server: the client's own delay
            return max(p.download_delay_ms / 1000, 0.0)
        return max(p.download_delay_ms / 1000, self.minimum_block_period * p.min_block_period_scale)

    def _on_download_timer(self, _event: TimerFired) -> None:
        if self._awaiting:
            if not (self._stale_seen or self._progressed):
                self._errors += 1
                if self._errors >= self.policy.download_error_threshold:
                    self._client_abort(f"ABORT: no block response after {self._errors} requests")
                    return
                # EmberZNet: retry after max(next event, message backoff).
                self.retries += 1
                self._awaiting = False
                self._arm(max(self._block_period_s(), self.policy.block_retry_backoff_ms / 1000))
                return
            self.retries += 1  # asked again at once: a stale answer came, or a page ran out
        self._request_block()

    def _send_end(self, status: Any) -> None:
        """An Upgrade End Request with `status` about the download under way."""
        d = self._download
        assert d is not None
        self._send(
            "upgrade_end",
            status=status,
            manufacturer_code=d.manufacturer_id,
            image_type=d.image_type,
            file_version=d.file_version,
        )

    def _client_abort(self, reason: str) -> None:
        self._send_end(Status.ABORT)
        self.last_reason = reason
        self._actions.append(Outcome(OutcomeKind.FAILED, reason))
        self._forget_download()
        self._to_query()

    def _server_abort(self, reason: str) -> None:
        """The server ended the download: no Upgrade End Request (spec §2.3, T26)."""
        self.last_reason = reason
        self._actions.append(Outcome(OutcomeKind.FAILED, reason))
        self._forget_download()
        self._to_query()

    def _on_block_response(self, rx: Received) -> None:
        cmd = rx.command
        d = self._download
        assert d is not None
        status = cmd.status
        if status == Status.SUCCESS:
            data = cmd.image_data
            if (
                cmd.manufacturer_code != d.manufacturer_id
                or cmd.image_type != d.image_type
                or cmd.file_version != d.file_version
                or len(data) > self._largest_block
                or cmd.file_offset + len(data) > d.image_size
            ):
                self._default_response(rx, Status.INVALID_VALUE)
                return
            offset = int(cmd.file_offset)
            if data and self.policy.fail_block_after is not None and self._fails_block(d, offset):
                return
            if offset != self.file_offset or not data:
                if data and self._take_asked(offset, bytes(data)):
                    return
                if data and self._keep(offset, bytes(data)):
                    return
                self._stale_seen = True  # EmberZNet: silently ignored, re-asked on the tick
                return
            self._store_block(bytes(data))
            return
        if status == Status.WAIT_FOR_DATA:
            self._wait_for_data(cmd)
            return
        if status == Status.UNSUP_CLUSTER_COMMAND and self._page_mode:
            self._page_mode = False  # T28, in a block response rather than a Default Response
            d.end_page()
            self._request_block()
            return
        if status in _SERVER_ENDS_DOWNLOAD:
            self._server_abort(f"{_status_name(status)}: download aborted by server")
            return
        # EmberZNet: "Unknown Image block response status code": INVALID_VALUE, and the download
        # goes on (the answer still counts as one: the same offset is asked again at the tick).
        self._default_response(rx, Status.INVALID_VALUE)
        self._stale_seen = True

    def _keep(self, offset: int, data: bytes) -> bool:
        """A block of the page being fetched that came past a gap: keep it until the gap is
        filled (EmberZNet notes it in the page's bitmap and asks only for the missing blocks).
        False when it is no such block (before FileOffset, outside the page, already kept)."""
        d = self._download
        assert d is not None
        if (
            not self._page_mode
            or d.page_start is None
            or not self.file_offset < offset < d.page_end
            or offset in d.kept
        ):
            return False
        d.kept[offset] = data
        d.blocks += 1
        self._progressed = True
        if not d.filling:
            self._arm(self.policy.page_timeout_s)  # more of this page is on its way
        return True

    def _write(self, data: bytes) -> None:
        """Store `data` at FileOffset and move FileOffset past it."""
        d = self._download
        assert d is not None
        offset = self.file_offset
        d.data[offset : offset + len(data)] = data
        self._actions.append(WriteSlot(offset, data))
        self.file_offset = offset + len(data)

    def _store_block(self, data: bytes) -> None:
        d = self._download
        assert d is not None
        self._write(data)
        for start in sorted(d.kept) if d.kept else ():  # kept past the gap this block filled
            if start > self.file_offset:
                break
            block = d.kept.pop(start)
            if start + len(block) > self.file_offset:
                self._write(block[self.file_offset - start :])
        d.blocks += 1
        self._progressed = True
        self._errors = 0
        if self.file_offset >= d.image_size:
            self._awaiting = False
            self._commit(self._record_now())
            self._enter_verify()
            return
        self._commit(self._record_now())
        if self._page_mode and d.page_start is not None:
            if self.file_offset < d.page_end and not d.filling:
                self._arm(self.policy.page_timeout_s)  # more of this page is on its way
                return
            if self.file_offset >= d.page_end:
                d.end_page()
        self._next_request()

    def _next_request(self) -> None:
        """A block was taken: ask for the next one, after the block period if there is one."""
        self._awaiting = False
        period = self._block_period_s()
        if period > 0:
            self._arm(period)
        else:
            self._request_block()

    def _wait_for_data(self, cmd: Any) -> None:
        """WAIT_FOR_DATA: wait as the times say. Only the 11-byte form, which carries
        MinimumBlockPeriod, sets the attribute and adds that period to this wait; the 9-byte form
        (older servers) leaves both alone (EmberZNet reads the field only when the frame is long
        enough, spec §1.4)."""
        p = self.policy
        current, request = int(cmd.current_time), int(cmd.request_time)
        if current == 0:
            delay = float(request)
        elif request < current:
            delay = float(p.bad_wait_for_data_s)
        else:
            delay = float(request - current)
        delay = min(delay, float(p.max_wait_s))
        if cmd.minimum_block_period is not None:
            self.minimum_block_period = int(cmd.minimum_block_period)
            delay += self.minimum_block_period * p.min_block_period_scale
        self._awaiting = False
        if self._download is not None:
            self._download.end_page()
        self._arm(delay)

    def _on_download_default_response(self, rx: Received) -> None:
        cmd = rx.command
        if cmd.command_id not in (
            frames.command_id("image_block"),
            frames.command_id("image_page"),
        ):
            return
        status = cmd.status
        if status == Status.UNSUP_CLUSTER_COMMAND and self._page_mode:
            self._page_mode = False  # T28: the server has no page support
            if self._download is not None:
                self._download.end_page()
            self._request_block()
            return
        if status in (Status.NO_IMAGE_AVAILABLE, Status.UNSUP_CLUSTER_COMMAND, Status.ABORT):
            self._server_abort(f"{_status_name(status)}: download aborted by server")

    # -- verify and activate ---------------------------------------------------------------------

    def _enter_verify(self) -> None:
        self._enter(S.VERIFY_IMAGE)
        self._awaiting = False
        self._arm(VERIFY_DELAY_S)

    def _check_image(self, data: bytes) -> str | None:
        """Why the downloaded file must be refused, or None when it may be installed."""
        d = self._download
        assert d is not None
        try:
            header = parse_header(data)
        except ImageFormatError as exc:
            return f"header: {exc}"
        # A wildcard manufacturer code or image type in the header (spec §3.1, §3.2) matches
        # whatever the server offered it under.
        if (
            header.manufacturer_id not in (d.manufacturer_id, frames.WILDCARD_MANUFACTURER)
            or header.image_type not in (d.image_type, frames.WILDCARD_IMAGE_TYPE)
            or header.file_version != d.file_version
        ):
            return "header does not match the offered image"
        hw = self.policy.hardware_version
        low, high = header.minimum_hardware_version, header.maximum_hardware_version
        if (
            self.policy.enforce_hardware_range
            and hw is not None
            and low is not None
            and high is not None
            and not low <= hw <= high
        ):
            return f"hardware version 0x{hw:04X} outside 0x{low:04X}..0x{high:04X}"
        d.stack_version = header.stack_version
        if self.verifier is not None:
            ok, why = self.verifier(data)
            if not ok:
                return why or "verification failed"
        return None

    def _on_verify_timer(self, _event: TimerFired) -> None:
        d = self._download
        assert d is not None
        data = bytes(d.data)
        why = self._check_image(data)
        if why is not None:
            if self.policy.send_upgrade_end:
                self._send_end(self._end_status(Status.INVALID_IMAGE))
            self.last_reason = f"INVALID_IMAGE: {why}"
            self._actions.append(Outcome(OutcomeKind.REJECTED, self.last_reason))
            self._forget_download()  # invalidated so it is never reused (spec §2.5)
            self._to_query()
            return
        self.downloaded_zigbee_stack_version = d.stack_version
        self._enter(S.WAITING_FOR_UPGRADE_MESSAGE)
        self._errors = 0
        self._send_upgrade_end()

    def _send_upgrade_end(self) -> None:
        if self.policy.send_upgrade_end:
            self._send_end(self._end_status(Status.SUCCESS))
        self._awaiting = True
        self._arm_answer(self.policy.message_timeout_ms / 1000)

    def _on_waiting_timer(self, _event: TimerFired) -> None:
        p = self.policy
        if self._awaiting:
            self._errors += 1
            if self._errors >= p.upgrade_wait_threshold:
                self._awaiting = False
                self._errors = 0
                if p.timeout_policy is TimeoutPolicy.APPLY:
                    self._countdown(p.min_activation_delay_s)
                else:
                    self._arm(p.wait_for_upgrade_poll_s)  # keep asking, hourly
                return
        self._send_upgrade_end()

    def _ids_match(self, cmd: Any) -> bool:
        d = self._download
        assert d is not None
        return (
            cmd.manufacturer_code in (d.manufacturer_id, frames.WILDCARD_MANUFACTURER)
            and cmd.image_type in (d.image_type, frames.WILDCARD_IMAGE_TYPE)
            and cmd.file_version in (d.file_version, frames.WILDCARD_FILE_VERSION)
        )

    def _on_upgrade_end_response(self, rx: Received) -> None:
        cmd = rx.command
        p = self.policy
        if not self._ids_match(cmd):
            self._default_response(rx, Status.INVALID_VALUE)
            return
        self._awaiting = False
        self._errors = 0
        current, upgrade = int(cmd.current_time), int(cmd.upgrade_time)
        if upgrade == NO_UPGRADE_TIME:
            if p.activation_policy is ActivationPolicy.OUT_OF_BAND:
                self._enter_out_of_band()
            else:
                self._enter(S.WAITING_FOR_UPGRADE_MESSAGE)
                self._arm(p.wait_for_upgrade_poll_s)
            return
        if p.activation_policy is ActivationPolicy.OUT_OF_BAND:
            self._default_response(rx, Status.NOT_AUTHORIZED)
            self._enter_out_of_band()
            return
        if current == 0:
            delay = float(upgrade)
        elif upgrade >= current:
            delay = float(upgrade - current)
        else:
            delay = float(p.wait_for_upgrade_poll_s)  # EmberZNet: invalid time, 1 h
        self._countdown(delay)

    def _countdown(self, delay: float) -> None:
        p = self.policy
        if p.countdown_mode is CountdownMode.EMBERZNET:
            delay = min(delay, float(p.max_wait_s))
        self._enter(S.COUNTDOWN_TO_UPGRADE)
        self._arm(max(delay, float(p.min_activation_delay_s)))

    def _enter_out_of_band(self) -> None:
        self._enter(S.UPGRADE_VIA_OUT_OF_BAND)
        self._cancel()

    def _on_waiting_default_response(self, rx: Received) -> None:
        cmd = rx.command
        if cmd.command_id == frames.command_id("upgrade_end") and cmd.status != Status.SUCCESS:
            self._server_abort(f"{_status_name(cmd.status)}: upgrade refused by server")

    def _on_countdown_timer(self, _event: TimerFired) -> None:
        """The countdown ran out: boot the new image."""
        d = self._download
        assert d is not None
        self._actions.append(Activate(d.file_version))

    def _on_activation_failed(self, _event: ActivationFailed) -> None:
        self._server_abort("bootloader refused the image")

    def _on_out_of_band_upgrade_end_response(self, rx: Received) -> None:
        if int(rx.command.upgrade_time) != NO_UPGRADE_TIME:
            self._default_response(rx, Status.NOT_AUTHORIZED)

    def _on_out_of_band_activate(self, _event: OutOfBandActivate) -> None:
        self._countdown(self.policy.min_activation_delay_s)


def _either(value: int | None, default: int) -> int:
    """A knob's value when it is set, else the well-behaved one."""
    return default if value is None else value


_ZCL_HEADER = 3
"""Octets of a ZCL header with no manufacturer code (frame control, TSN, command id)."""
_MALFORMED_PAYLOAD = 5
"""Payload octets kept of a cut-short Image Block Request (14 are required): field control,
manufacturer code and image type, then it ends inside FileVersion."""
_SHUFFLE_STEP_CAP = 255
"""Offsets of a shuffled download are spaced by the size asked for (at most a byte's worth)."""


def _status_name(status: Any) -> str:
    """ZCL status name, e.g. NO_IMAGE_AVAILABLE; a value with no name as hex, e.g. 0x20."""
    name = getattr(status, "name", None)
    if name is None or name.startswith("undefined"):
        return f"0x{int(status):02X}"
    return name


# ---------------------------------------------------------------------------------------------
# The table (spec §2.3): one row per (state, trigger) the client reacts to, states in §2.2's
# order; a row lists the states its handler may leave the client in, staying put first.

C = OtaClient

TRANSITIONS: dict[tuple[State, Trigger], Row] = {
    # OFF
    (S.OFF, T.POWER_RESTORED): _row(C._on_power_restored, S.NONE),
    # NONE
    (S.NONE, T.POWER_LOST): _row(C._on_power_lost, S.OFF),
    (S.NONE, T.START): _row(C._on_start, S.DELAY),
    (S.NONE, T.IMAGE_NOTIFY): _row(C._on_notify_before_server, S.DISCOVER_SERVER),
    # DELAY
    (S.DELAY, T.POWER_LOST): _row(C._on_power_lost, S.OFF),
    (S.DELAY, T.TIMER): _row(C._on_discover, S.DISCOVER_SERVER),
    (S.DELAY, T.IMAGE_NOTIFY): _row(C._on_notify_before_server, S.DISCOVER_SERVER),
    # DISCOVER_SERVER
    (S.DISCOVER_SERVER, T.POWER_LOST): _row(C._on_power_lost, S.OFF),
    (S.DISCOVER_SERVER, T.TIMER): _row(C._on_discover, S.DISCOVER_SERVER),
    (S.DISCOVER_SERVER, T.SERVER_FOUND): _row(C._on_server_found, S.GET_SERVER_EUI),
    (S.DISCOVER_SERVER, T.DISCOVERY_FAILED): _row(C._on_discovery_failed, S.DISCOVER_SERVER),
    (S.DISCOVER_SERVER, T.IMAGE_NOTIFY): _row(C._on_notify_before_server, S.DISCOVER_SERVER),
    # GET_SERVER_EUI
    (S.GET_SERVER_EUI, T.POWER_LOST): _row(C._on_power_lost, S.OFF),
    (S.GET_SERVER_EUI, T.TIMER): _row(C._on_discover, S.DISCOVER_SERVER),
    (S.GET_SERVER_EUI, T.SERVER_EUI): _row(
        C._on_server_eui, S.QUERY_NEXT_IMAGE, S.DOWNLOAD, S.VERIFY_IMAGE
    ),
    # QUERY_NEXT_IMAGE
    (S.QUERY_NEXT_IMAGE, T.POWER_LOST): _row(C._on_power_lost, S.OFF),
    (S.QUERY_NEXT_IMAGE, T.TIMER): _row(C._on_query_timer, S.QUERY_NEXT_IMAGE, S.DISCOVER_SERVER),
    (S.QUERY_NEXT_IMAGE, T.IMAGE_NOTIFY): _row(C._on_image_notify, S.QUERY_NEXT_IMAGE),
    (S.QUERY_NEXT_IMAGE, T.QUERY_NEXT_IMAGE_RESPONSE): _row(
        C._on_query_response, S.QUERY_NEXT_IMAGE, S.DISCOVER_SERVER, S.DOWNLOAD
    ),
    (S.QUERY_NEXT_IMAGE, T.DEFAULT_RESPONSE): _row(
        C._on_query_default_response, S.QUERY_NEXT_IMAGE
    ),
    # DOWNLOAD
    (S.DOWNLOAD, T.POWER_LOST): _row(C._on_power_lost, S.OFF),
    (S.DOWNLOAD, T.TIMER): _row(C._on_download_timer, S.DOWNLOAD, S.QUERY_NEXT_IMAGE),
    (S.DOWNLOAD, T.IMAGE_BLOCK_RESPONSE): _row(
        C._on_block_response, S.DOWNLOAD, S.VERIFY_IMAGE, S.QUERY_NEXT_IMAGE
    ),
    (S.DOWNLOAD, T.DEFAULT_RESPONSE): _row(
        C._on_download_default_response, S.DOWNLOAD, S.QUERY_NEXT_IMAGE
    ),
    # VERIFY_IMAGE
    (S.VERIFY_IMAGE, T.POWER_LOST): _row(C._on_power_lost, S.OFF),
    (S.VERIFY_IMAGE, T.TIMER): _row(
        C._on_verify_timer, S.WAITING_FOR_UPGRADE_MESSAGE, S.QUERY_NEXT_IMAGE
    ),
    # WAITING_FOR_UPGRADE_MESSAGE
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.POWER_LOST): _row(C._on_power_lost, S.OFF),
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.TIMER): _row(
        C._on_waiting_timer, S.WAITING_FOR_UPGRADE_MESSAGE, S.COUNTDOWN_TO_UPGRADE
    ),
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.UPGRADE_END_RESPONSE): _row(
        C._on_upgrade_end_response,
        S.WAITING_FOR_UPGRADE_MESSAGE,
        S.COUNTDOWN_TO_UPGRADE,
        S.UPGRADE_VIA_OUT_OF_BAND,
    ),
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.DEFAULT_RESPONSE): _row(
        C._on_waiting_default_response, S.WAITING_FOR_UPGRADE_MESSAGE, S.QUERY_NEXT_IMAGE
    ),
    # COUNTDOWN_TO_UPGRADE
    (S.COUNTDOWN_TO_UPGRADE, T.POWER_LOST): _row(C._on_power_lost, S.OFF),
    (S.COUNTDOWN_TO_UPGRADE, T.TIMER): _row(C._on_countdown_timer, S.COUNTDOWN_TO_UPGRADE),
    (S.COUNTDOWN_TO_UPGRADE, T.ACTIVATION_FAILED): _row(
        C._on_activation_failed, S.QUERY_NEXT_IMAGE
    ),
    # UPGRADE_VIA_OUT_OF_BAND
    (S.UPGRADE_VIA_OUT_OF_BAND, T.POWER_LOST): _row(C._on_power_lost, S.OFF),
    (S.UPGRADE_VIA_OUT_OF_BAND, T.OUT_OF_BAND_ACTIVATE): _row(
        C._on_out_of_band_activate, S.COUNTDOWN_TO_UPGRADE
    ),
    (S.UPGRADE_VIA_OUT_OF_BAND, T.UPGRADE_END_RESPONSE): _row(
        C._on_out_of_band_upgrade_end_response, S.UPGRADE_VIA_OUT_OF_BAND
    ),
}

# Why the client ignores a pair (a frame also gets Default Response FAILURE if unicast, except
# before a server is selected; see `OtaClient._refuse_ignored`).
_DEAD = "no power: the radio and timers are dead"
_POWERED = "already powered: a reboot is PowerLost then PowerRestored"
_STARTED = "already started"
_NO_TIMER = "no timer is armed before start"
_OOB_ONLY = "waits for the out-of-band event only"
_NO_DISCOVERY = "late discovery result: no discovery in progress"
_NO_LOOKUP = "late EUI64 result: no lookup in progress"
_NO_OOB_IMAGE = "no image waiting for out-of-band activation"
_NO_ACTIVATION = "no activation in progress"
_NO_SERVER = "no OTA server selected yet (spec §2.3: commands invalid for the state)"
_BUSY = "an upgrade in progress ignores Image Notify (spec §1.6.6)"
_NEVER_ASKED = "this client never sends Query Device Specific File Request"
_INVALID = "command invalid for the state (spec §2.3): ignored"
_COUNTING_DOWN = (
    "the upgrade is already accepted and counting down: EmberZNet takes Upgrade End Response "
    "only while waiting for one (or for the out-of-band event)"
)

#: Every (state, trigger) pair outside TRANSITIONS, with why it is ignored.
IGNORED: dict[tuple[State, Trigger], str] = {
    # OFF
    (S.OFF, T.POWER_LOST): _DEAD,
    (S.OFF, T.START): _DEAD,
    (S.OFF, T.TIMER): _DEAD,
    (S.OFF, T.SERVER_FOUND): _DEAD,
    (S.OFF, T.DISCOVERY_FAILED): _DEAD,
    (S.OFF, T.SERVER_EUI): _DEAD,
    (S.OFF, T.OUT_OF_BAND_ACTIVATE): _DEAD,
    (S.OFF, T.ACTIVATION_FAILED): _DEAD,
    (S.OFF, T.IMAGE_NOTIFY): _DEAD,
    (S.OFF, T.QUERY_NEXT_IMAGE_RESPONSE): _DEAD,
    (S.OFF, T.IMAGE_BLOCK_RESPONSE): _DEAD,
    (S.OFF, T.UPGRADE_END_RESPONSE): _DEAD,
    (S.OFF, T.QUERY_SPECIFIC_FILE_RESPONSE): _DEAD,
    (S.OFF, T.DEFAULT_RESPONSE): _DEAD,
    # NONE
    (S.NONE, T.POWER_RESTORED): _POWERED,
    (S.NONE, T.TIMER): _NO_TIMER,
    (S.NONE, T.SERVER_FOUND): _NO_DISCOVERY,
    (S.NONE, T.DISCOVERY_FAILED): _NO_DISCOVERY,
    (S.NONE, T.SERVER_EUI): _NO_LOOKUP,
    (S.NONE, T.OUT_OF_BAND_ACTIVATE): _NO_OOB_IMAGE,
    (S.NONE, T.ACTIVATION_FAILED): _NO_ACTIVATION,
    (S.NONE, T.QUERY_NEXT_IMAGE_RESPONSE): _NO_SERVER,
    (S.NONE, T.IMAGE_BLOCK_RESPONSE): _NO_SERVER,
    (S.NONE, T.UPGRADE_END_RESPONSE): _NO_SERVER,
    (S.NONE, T.QUERY_SPECIFIC_FILE_RESPONSE): _NO_SERVER,
    (S.NONE, T.DEFAULT_RESPONSE): _NO_SERVER,
    # DELAY
    (S.DELAY, T.POWER_RESTORED): _POWERED,
    (S.DELAY, T.START): _STARTED,
    (S.DELAY, T.SERVER_FOUND): _NO_DISCOVERY,
    (S.DELAY, T.DISCOVERY_FAILED): _NO_DISCOVERY,
    (S.DELAY, T.SERVER_EUI): _NO_LOOKUP,
    (S.DELAY, T.OUT_OF_BAND_ACTIVATE): _NO_OOB_IMAGE,
    (S.DELAY, T.ACTIVATION_FAILED): _NO_ACTIVATION,
    (S.DELAY, T.QUERY_NEXT_IMAGE_RESPONSE): _INVALID,
    (S.DELAY, T.IMAGE_BLOCK_RESPONSE): _INVALID,
    (S.DELAY, T.UPGRADE_END_RESPONSE): _INVALID,
    (S.DELAY, T.QUERY_SPECIFIC_FILE_RESPONSE): _NEVER_ASKED,
    (S.DELAY, T.DEFAULT_RESPONSE): _INVALID,
    # DISCOVER_SERVER
    (S.DISCOVER_SERVER, T.POWER_RESTORED): _POWERED,
    (S.DISCOVER_SERVER, T.START): _STARTED,
    (S.DISCOVER_SERVER, T.SERVER_EUI): _NO_LOOKUP,
    (S.DISCOVER_SERVER, T.OUT_OF_BAND_ACTIVATE): _NO_OOB_IMAGE,
    (S.DISCOVER_SERVER, T.ACTIVATION_FAILED): _NO_ACTIVATION,
    (S.DISCOVER_SERVER, T.QUERY_NEXT_IMAGE_RESPONSE): _NO_SERVER,
    (S.DISCOVER_SERVER, T.IMAGE_BLOCK_RESPONSE): _NO_SERVER,
    (S.DISCOVER_SERVER, T.UPGRADE_END_RESPONSE): _NO_SERVER,
    (S.DISCOVER_SERVER, T.QUERY_SPECIFIC_FILE_RESPONSE): _NO_SERVER,
    (S.DISCOVER_SERVER, T.DEFAULT_RESPONSE): _NO_SERVER,
    # GET_SERVER_EUI
    (S.GET_SERVER_EUI, T.POWER_RESTORED): _POWERED,
    (S.GET_SERVER_EUI, T.START): _STARTED,
    (S.GET_SERVER_EUI, T.SERVER_FOUND): _NO_DISCOVERY,
    (S.GET_SERVER_EUI, T.DISCOVERY_FAILED): _NO_DISCOVERY,
    (S.GET_SERVER_EUI, T.OUT_OF_BAND_ACTIVATE): _NO_OOB_IMAGE,
    (S.GET_SERVER_EUI, T.ACTIVATION_FAILED): _NO_ACTIVATION,
    (S.GET_SERVER_EUI, T.IMAGE_NOTIFY): _NO_SERVER,
    (S.GET_SERVER_EUI, T.QUERY_NEXT_IMAGE_RESPONSE): _NO_SERVER,
    (S.GET_SERVER_EUI, T.IMAGE_BLOCK_RESPONSE): _NO_SERVER,
    (S.GET_SERVER_EUI, T.UPGRADE_END_RESPONSE): _NO_SERVER,
    (S.GET_SERVER_EUI, T.QUERY_SPECIFIC_FILE_RESPONSE): _NO_SERVER,
    (S.GET_SERVER_EUI, T.DEFAULT_RESPONSE): _NO_SERVER,
    # QUERY_NEXT_IMAGE
    (S.QUERY_NEXT_IMAGE, T.POWER_RESTORED): _POWERED,
    (S.QUERY_NEXT_IMAGE, T.START): _STARTED,
    (S.QUERY_NEXT_IMAGE, T.SERVER_FOUND): _NO_DISCOVERY,
    (S.QUERY_NEXT_IMAGE, T.DISCOVERY_FAILED): _NO_DISCOVERY,
    (S.QUERY_NEXT_IMAGE, T.SERVER_EUI): _NO_LOOKUP,
    (S.QUERY_NEXT_IMAGE, T.OUT_OF_BAND_ACTIVATE): _NO_OOB_IMAGE,
    (S.QUERY_NEXT_IMAGE, T.ACTIVATION_FAILED): _NO_ACTIVATION,
    (S.QUERY_NEXT_IMAGE, T.IMAGE_BLOCK_RESPONSE): _INVALID,
    (S.QUERY_NEXT_IMAGE, T.UPGRADE_END_RESPONSE): _INVALID,
    (S.QUERY_NEXT_IMAGE, T.QUERY_SPECIFIC_FILE_RESPONSE): _NEVER_ASKED,
    # DOWNLOAD
    (S.DOWNLOAD, T.POWER_RESTORED): _POWERED,
    (S.DOWNLOAD, T.START): _STARTED,
    (S.DOWNLOAD, T.SERVER_FOUND): _NO_DISCOVERY,
    (S.DOWNLOAD, T.DISCOVERY_FAILED): _NO_DISCOVERY,
    (S.DOWNLOAD, T.SERVER_EUI): _NO_LOOKUP,
    (S.DOWNLOAD, T.OUT_OF_BAND_ACTIVATE): _NO_OOB_IMAGE,
    (S.DOWNLOAD, T.ACTIVATION_FAILED): _NO_ACTIVATION,
    (S.DOWNLOAD, T.IMAGE_NOTIFY): _BUSY,
    (S.DOWNLOAD, T.QUERY_NEXT_IMAGE_RESPONSE): _INVALID,
    (S.DOWNLOAD, T.UPGRADE_END_RESPONSE): _INVALID,
    (S.DOWNLOAD, T.QUERY_SPECIFIC_FILE_RESPONSE): _NEVER_ASKED,
    # VERIFY_IMAGE
    (S.VERIFY_IMAGE, T.POWER_RESTORED): _POWERED,
    (S.VERIFY_IMAGE, T.START): _STARTED,
    (S.VERIFY_IMAGE, T.SERVER_FOUND): _NO_DISCOVERY,
    (S.VERIFY_IMAGE, T.DISCOVERY_FAILED): _NO_DISCOVERY,
    (S.VERIFY_IMAGE, T.SERVER_EUI): _NO_LOOKUP,
    (S.VERIFY_IMAGE, T.OUT_OF_BAND_ACTIVATE): _NO_OOB_IMAGE,
    (S.VERIFY_IMAGE, T.ACTIVATION_FAILED): _NO_ACTIVATION,
    (S.VERIFY_IMAGE, T.IMAGE_NOTIFY): _BUSY,
    (S.VERIFY_IMAGE, T.QUERY_NEXT_IMAGE_RESPONSE): _INVALID,
    (S.VERIFY_IMAGE, T.IMAGE_BLOCK_RESPONSE): _INVALID,
    (S.VERIFY_IMAGE, T.UPGRADE_END_RESPONSE): _INVALID,
    (S.VERIFY_IMAGE, T.QUERY_SPECIFIC_FILE_RESPONSE): _NEVER_ASKED,
    (S.VERIFY_IMAGE, T.DEFAULT_RESPONSE): _INVALID,
    # WAITING_FOR_UPGRADE_MESSAGE
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.POWER_RESTORED): _POWERED,
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.START): _STARTED,
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.SERVER_FOUND): _NO_DISCOVERY,
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.DISCOVERY_FAILED): _NO_DISCOVERY,
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.SERVER_EUI): _NO_LOOKUP,
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.OUT_OF_BAND_ACTIVATE): _NO_OOB_IMAGE,
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.ACTIVATION_FAILED): _NO_ACTIVATION,
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.IMAGE_NOTIFY): _BUSY,
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.QUERY_NEXT_IMAGE_RESPONSE): _INVALID,
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.IMAGE_BLOCK_RESPONSE): _INVALID,
    (S.WAITING_FOR_UPGRADE_MESSAGE, T.QUERY_SPECIFIC_FILE_RESPONSE): _NEVER_ASKED,
    # COUNTDOWN_TO_UPGRADE
    (S.COUNTDOWN_TO_UPGRADE, T.POWER_RESTORED): _POWERED,
    (S.COUNTDOWN_TO_UPGRADE, T.START): _STARTED,
    (S.COUNTDOWN_TO_UPGRADE, T.SERVER_FOUND): _NO_DISCOVERY,
    (S.COUNTDOWN_TO_UPGRADE, T.DISCOVERY_FAILED): _NO_DISCOVERY,
    (S.COUNTDOWN_TO_UPGRADE, T.SERVER_EUI): _NO_LOOKUP,
    (S.COUNTDOWN_TO_UPGRADE, T.OUT_OF_BAND_ACTIVATE): _NO_OOB_IMAGE,
    (S.COUNTDOWN_TO_UPGRADE, T.IMAGE_NOTIFY): _BUSY,
    (S.COUNTDOWN_TO_UPGRADE, T.UPGRADE_END_RESPONSE): _COUNTING_DOWN,
    (S.COUNTDOWN_TO_UPGRADE, T.QUERY_NEXT_IMAGE_RESPONSE): _INVALID,
    (S.COUNTDOWN_TO_UPGRADE, T.IMAGE_BLOCK_RESPONSE): _INVALID,
    (S.COUNTDOWN_TO_UPGRADE, T.QUERY_SPECIFIC_FILE_RESPONSE): _NEVER_ASKED,
    (S.COUNTDOWN_TO_UPGRADE, T.DEFAULT_RESPONSE): _INVALID,
    # UPGRADE_VIA_OUT_OF_BAND
    (S.UPGRADE_VIA_OUT_OF_BAND, T.POWER_RESTORED): _POWERED,
    (S.UPGRADE_VIA_OUT_OF_BAND, T.START): _STARTED,
    (S.UPGRADE_VIA_OUT_OF_BAND, T.TIMER): _OOB_ONLY,
    (S.UPGRADE_VIA_OUT_OF_BAND, T.SERVER_FOUND): _NO_DISCOVERY,
    (S.UPGRADE_VIA_OUT_OF_BAND, T.DISCOVERY_FAILED): _NO_DISCOVERY,
    (S.UPGRADE_VIA_OUT_OF_BAND, T.SERVER_EUI): _NO_LOOKUP,
    (S.UPGRADE_VIA_OUT_OF_BAND, T.ACTIVATION_FAILED): _NO_ACTIVATION,
    (S.UPGRADE_VIA_OUT_OF_BAND, T.IMAGE_NOTIFY): _BUSY,
    (S.UPGRADE_VIA_OUT_OF_BAND, T.QUERY_NEXT_IMAGE_RESPONSE): _INVALID,
    (S.UPGRADE_VIA_OUT_OF_BAND, T.IMAGE_BLOCK_RESPONSE): _INVALID,
    (S.UPGRADE_VIA_OUT_OF_BAND, T.QUERY_SPECIFIC_FILE_RESPONSE): _NEVER_ASKED,
    (S.UPGRADE_VIA_OUT_OF_BAND, T.DEFAULT_RESPONSE): _INVALID,
}
