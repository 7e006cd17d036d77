"""Policy knobs of the OTA client and server, as frozen data.

This module owns the names and defaults of every behaviour switch the OTA state machines read:
`ClientPolicy` (defaults = EmberZNet's `ota-client` defaults, shared/spec/ota-cluster.md §2.4) and
`ServerPolicy` (defaults = EmberZNet's `ota-server` / zigpy's serving behaviour). Device profiles
fill these from their `[ota]` table, so field names are stable and read well in TOML. Every mode is
a `StrEnum` whose values are the TOML spellings; a policy accepts the spelling and keeps the member.
It must never hold behaviour: the client and server decide what a knob means, this module only
validates values.

Misbehaviours are knobs too, so that a profile, a home file or a fuzzer can make a client or a
server break the protocol on purpose (docs/testing.md, "misbehaving clients and servers"): every
one of them defaults to behaving, so a policy that does not name them is the well-behaved one.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from emulator import framesize
from emulator.errors import PolicyError


class ActivationPolicy(enum.StrEnum):
    """UpgradeActivationPolicy (attribute 0x000B, spec §1.2) as profiles spell it; the client
    reports it as zigpy's `Ota.UpgradeActivationPolicy`."""

    SERVER = "server"
    """0x00: the OTA server's Upgrade End Response may activate the image."""
    OUT_OF_BAND = "out-of-band"
    """0x01: only an out-of-band event (e.g. a GB CS06 command) activates it."""


class TimeoutPolicy(enum.StrEnum):
    """UpgradeTimeoutPolicy (attribute 0x000C, spec §1.2); reported as zigpy's
    `Ota.UpgradeTimeoutPolicy`."""

    APPLY = "apply"
    """0x00: apply the image when the server stops answering Upgrade End Requests."""
    DO_NOT_APPLY = "do-not-apply"
    """0x01: keep waiting instead."""


class CountdownMode(enum.StrEnum):
    """How long a countdown to upgrade may last (spec §2.3, IMPL quirks)."""

    EMBERZNET = "emberznet"
    """Clamp every countdown to `max_wait_s`, as EmberZNet's COUNTDOWN tick does."""
    STRICT = "strict"
    """Arm the full delay the server asked for (Exegin)."""


class BlockPeriodUnits(enum.StrEnum):
    """Units the client reads MinimumBlockPeriod in (spec §1.1, attribute 0x0009)."""

    AUTO = "auto"
    """By ClusterRevision: revision 2 counts seconds, any other milliseconds (EmberZNet)."""
    MS = "ms"
    S = "s"


class Verification(enum.StrEnum):
    """What the client checks in a finished download before asking to upgrade."""

    AUTO = "auto"
    """The file's own checks: Image Integrity Code, signatures."""
    NONE = "none"
    """Accept any complete file."""


class VersionPolicy(enum.StrEnum):
    """Which stored image a server offers to a query, by version (spec §2.6)."""

    UPGRADE = "upgrade"
    """A newer version."""
    DOWNGRADE = "downgrade"
    """An older version."""
    REINSTALL = "reinstall"
    """The version already running."""
    ANY = "any"
    """Any other version."""
    NONE = "none"
    """Nothing."""


class UpgradeTime(enum.StrEnum):
    """The UpgradeTime a server puts in its Upgrade End Response (spec §2.6)."""

    NOW = "now"
    """0: upgrade now."""
    DELAY = "delay"
    """`upgrade_delay_s` from now."""
    WAIT = "wait"
    """0xFFFFFFFF: wait for an unsolicited "upgrade now" (after `release_after_s`)."""


class TimeForm(enum.StrEnum):
    """How a server writes WAIT_FOR_DATA's and Upgrade End Response's times (spec §1.4);
    `ServerPolicy.use_utc` chooses, `ServerPolicy.time_form` names the choice."""

    RELATIVE = "relative"
    """CurrentTime 0; RequestTime/UpgradeTime are delays in seconds (EmberZNet)."""
    UTC = "utc"
    """CurrentTime is the server's UTCTime; the other time is absolute."""


class ServerFault(enum.StrEnum):
    """A misbehaviour a server injects to test clients (`ServerPolicy.misbehaviour`)."""

    NONE = "none"
    """Behave."""
    STALL = "stall"
    """Stop answering block and page requests."""
    ABORT = "abort"
    """Answer with Image Block Response ABORT."""
    WRONG_OFFSET = "wrong-offset"
    """Serve the block after the one asked for."""
    WRONG_SIZE = "wrong-size"
    """Serve one byte more than the request's MaximumDataSize allows."""
    CORRUPT_DATA = "corrupt-data"
    """Serve the block asked for with its first byte's bits inverted."""
    WRONG_FILE_VERSION = "wrong-file-version"
    """Serve the block asked for under the next file version."""
    ENDLESS_WAIT = "endless-wait"
    """Answer WAIT_FOR_DATA (wait one second) instead of the block, while it misbehaves."""
    DUPLICATE = "duplicate"
    """Send every answer to a block or page request twice."""


# Every spelling of each mode, in order.
ACTIVATION_POLICIES = tuple(ActivationPolicy)
TIMEOUT_POLICIES = tuple(TimeoutPolicy)
COUNTDOWN_MODES = tuple(CountdownMode)
MIN_BLOCK_PERIOD_UNITS = tuple(BlockPeriodUnits)
VERIFICATIONS = tuple(Verification)

VERSION_POLICIES = tuple(VersionPolicy)
UPGRADE_TIMES = tuple(UpgradeTime)
WAIT_FOR_DATA_FORMS = tuple(TimeForm)
MISBEHAVIOURS = tuple(ServerFault)


def _coerce(policy: object, owner: str, name: str, mode: type[enum.StrEnum]) -> None:
    """Replace the spelling in field `name` of a frozen policy by its `mode` member."""
    value = getattr(policy, name)
    try:
        member = mode(value)
    except (ValueError, TypeError):
        raise PolicyError(
            f"{owner}.{name} must be one of {', '.join(mode)}, got {value!r}"
        ) from None
    object.__setattr__(policy, name, member)


def _check_range(owner: str, name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise PolicyError(f"{owner}.{name} must be a number in [{low}, {high}], got {value!r}")


_LONG = 1 << 40
"""Upper bound of the durations and sizes that need none of their own."""

CLIENT_RANGES: dict[str, tuple[float, float]] = {
    "max_data_size": (1, 255),
    "page_size": (1, 0xFFFF),
    "response_spacing_ms": (0, 0xFFFF),
    "cluster_revision": (1, 0xFFFF),
    "download_delay_ms": (0, _LONG),
    "start_delay_min_s": (0, _LONG),
    "start_delay_max_s": (0, _LONG),
    "block_retry_backoff_ms": (0, _LONG),
    "min_activation_delay_s": (0, _LONG),
    "storage_size": (0, _LONG),
    # Every wait a client repeats has a floor, so a run never spins in place: at 0 the client
    # re-asks at the same virtual instant (or once per frame's flight) and the run never ends.
    "message_timeout_ms": (500, _LONG),  # shorter, and no answer through the hub is in time
    "page_timeout_s": (0.5, _LONG),
    "query_interval_s": (1, _LONG),
    "server_discovery_delay_s": (1, _LONG),
    "bad_wait_for_data_s": (1, _LONG),
    "max_wait_s": (1, _LONG),
    "wait_for_upgrade_poll_s": (1, _LONG),
    "query_error_threshold": (1, 1 << 20),
    "download_error_threshold": (1, 1 << 20),
    "upgrade_wait_threshold": (1, 1 << 20),
    "request_delay_ms": (0, _LONG),
    "misaligned_offset": (-0xFFFF, 0xFFFF),
}
"""Every numeric knob of `ClientPolicy` -> its allowed range (inclusive): one in which every run
ends."""


_CLIENT_OPTIONAL_RANGES: dict[str, tuple[float, float]] = {
    "claimed_max_data_size": (0, 255),
    "stop_after_blocks": (0, 1 << 32),
    "fail_block_after": (0, 1 << 32),
    "malformed_request_after_blocks": (0, 1 << 32),
    "abort_after_blocks": (0, 1 << 32),
    "upgrade_end_after_blocks": (0, 1 << 32),
    "upgrade_end_status": (0, 255),
    "block_manufacturer_id": (0, 0xFFFF),
    "block_image_type": (0, 0xFFFF),
}
"""Knobs of `ClientPolicy` that may be None (not set) -> the range of a value."""


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    """How an OTA client behaves. Every default is EmberZNet's (spec §2.4) unless noted."""

    # Block transfer.
    max_data_size: int = framesize.DEFAULT_MAX_BLOCK_DATA
    """MaximumDataSize put in Image Block/Page Requests: by default the largest block one
    APS-encrypted Smart Energy frame holds (56, `emulator.framesize`; EmberZNet's client asks 63
    and relies on the server to cap it)."""
    download_delay_ms: int = 0
    """Delay between a good block and the next request (EmberZNet DOWNLOAD_DELAY_MS: 0)."""
    use_page_requests: bool = False
    """Ask with Image Page Requests instead of Image Block Requests (EmberZNet: off)."""
    page_size: int = 1024
    response_spacing_ms: int = 50
    page_timeout_s: float = 5.0
    cluster_revision: int = 3
    """OTA ClusterRevision; sets MinimumBlockPeriod units when `min_block_period_units` is auto."""
    min_block_period_units: BlockPeriodUnits = BlockPeriodUnits.AUTO
    """Units of MinimumBlockPeriod: "ms", "s", or "auto" (revision 2 → s, otherwise ms)."""
    send_min_block_period: bool = True
    """Put the current MinimumBlockPeriod in Image Block Requests (FieldControl bit1)."""
    send_node_address: bool = False
    """Put the client's IEEE address in Image Block/Page Requests (FieldControl bit0)."""

    # Querying and timeouts.
    query_interval_s: int = 300
    start_delay_min_s: int = 1
    start_delay_max_s: int = 255
    message_timeout_ms: int = 3000
    block_retry_backoff_ms: int = 2000
    server_discovery_delay_s: int = 600
    query_error_threshold: int = 10
    download_error_threshold: int = 10
    upgrade_wait_threshold: int = 10
    bad_wait_for_data_s: int = 300
    """Back-off when WAIT_FOR_DATA has RequestTime before CurrentTime (EmberZNet: 5 min)."""
    max_wait_s: int = 3600
    """Clamp on any server-requested wait (EmberZNet TIMEOUT_MAX_WAIT_TIME_MS: 60 min)."""
    wait_for_upgrade_poll_s: int = 3600
    """Re-ask interval after UpgradeTime 0xFFFFFFFF (EmberZNet WAIT_FOR_UPGRADE_DELAY_MS: 1 h)."""
    min_activation_delay_s: int = 3
    """Grace before an immediate upgrade, for APS retries and the ZCL response (EmberZNet: 3 s)."""

    # Activation.
    activation_policy: ActivationPolicy = ActivationPolicy.SERVER
    """UpgradeActivationPolicy: "server" (0x00) or "out-of-band" (0x01)."""
    timeout_policy: TimeoutPolicy = TimeoutPolicy.APPLY
    """UpgradeTimeoutPolicy: "apply" (0x00) or "do-not-apply" (0x01)."""
    countdown_mode: CountdownMode = CountdownMode.EMBERZNET
    """"emberznet" clamps every countdown to `max_wait_s`; "strict" arms the full delay."""

    # Image acceptance.
    allow_downgrade: bool = False
    hardware_version: int | None = None
    """0xVVRR sent in Query Next Image (FieldControl bit0); None means not configured."""
    enforce_hardware_range: bool = True
    """Refuse a downloaded file whose header hardware range excludes `hardware_version`."""
    storage_size: int = 1 << 20
    """Bytes in the download slot; a larger offered image is refused with INSUFFICIENT_SPACE."""
    verification: Verification = Verification.AUTO
    """"auto": check the finished file (integrity code, signatures) before asking to upgrade;
    "none": accept any complete file."""

    # Misbehaviours, for fuzzing servers (a superset of zigbee-herdsman's `OtaDeviceBehavior`
    # test knobs). Defaults behave. "After N blocks" counts the blocks stored since the download
    # started or resumed (0: before the first block request); each such misbehaviour happens at
    # most once per download. Power loss is no knob: it is a device's fault plan (`PowerCut`,
    # a home's `[faults] power_loss_at`).
    claimed_max_data_size: int | None = None
    """MaximumDataSize written in Image Block/Page Requests instead of `max_data_size`, whatever
    the frame-size rule says (255: herdsman's "0xFF" knob); a block up to this size is taken.
    A block that no frame can carry never arrives: the air refuses it and counts it."""
    stop_after_blocks: int | None = None
    """Stall: send no request after this many blocks (herdsman's stopAfterBlocks)."""
    shuffle_offsets: bool = False
    """Ask for the image's blocks in an order drawn from the client's seeded RNG, then fill the
    gaps in order (herdsman's shuffleOffsets swaps blocks 2 and 3)."""
    misaligned_offset: int = 0
    """Ask for the second block this many bytes after (negative: before) where the first ended;
    bytes already held are dropped, a gap is asked for afterwards (herdsman's misalignedOffset)."""
    fail_block_after: int | None = None
    """Treat the Image Block Response that comes after this many blocks as failed: drop it and
    ask for the same offset again (herdsman's failBlockResponse, at block 2 when 1)."""
    malformed_request_after_blocks: int | None = None
    """Send one Image Block Request cut short after this many blocks: a server should answer
    Default Response MALFORMED_COMMAND (the "trigger a default response" knob)."""
    abort_after_blocks: int | None = None
    """Send Upgrade End Request ABORT after this many blocks and give the download up."""
    upgrade_end_after_blocks: int | None = None
    """Send an Upgrade End Request (`upgrade_end_status`) after this many blocks, before the image
    is complete, then go on downloading (herdsman's upgradeEndAfterBlocks; 0: the early Upgrade
    End, before the first block)."""
    upgrade_end_status: int | None = None
    """Status put in every Upgrade End Request about a finished or early download instead of the
    client's own verdict (None: SUCCESS, or INVALID_IMAGE for a file that fails its checks;
    herdsman's upgradeEndStatus). The client still acts on its own verdict."""
    send_upgrade_end: bool = True
    """False: never send the Upgrade End Request after a download (herdsman's sendUpgradeEnd);
    the client waits as if it had, and its timeout policy applies."""
    request_delay_ms: int = 0
    """Slow pacing: every request leaves this long after the client decides to send it (its wait
    for the answer starts then)."""
    block_manufacturer_id: int | None = None
    """Manufacturer code written in Image Block/Page Requests instead of the offered image's."""
    block_image_type: int | None = None
    """Image type written in Image Block/Page Requests instead of the offered image's."""
    duplicate_requests: bool = False
    """Send every request twice (same bytes, same ZCL sequence number)."""

    def __post_init__(self) -> None:
        owner = "ClientPolicy"
        for name, (low, high) in CLIENT_RANGES.items():
            _check_range(owner, name, getattr(self, name), low, high)
        for name, (low, high) in _CLIENT_OPTIONAL_RANGES.items():
            if getattr(self, name) is not None:
                _check_range(owner, name, getattr(self, name), low, high)
        if self.start_delay_min_s > self.start_delay_max_s:
            raise PolicyError("ClientPolicy.start_delay_min_s must not exceed start_delay_max_s")
        if self.hardware_version is not None:
            _check_range(owner, "hardware_version", self.hardware_version, 0, 0xFFFF)
        # Modes arrive as their spellings (profiles, CLI options) and are kept as members.
        _coerce(self, owner, "min_block_period_units", BlockPeriodUnits)
        _coerce(self, owner, "activation_policy", ActivationPolicy)
        _coerce(self, owner, "timeout_policy", TimeoutPolicy)
        _coerce(self, owner, "countdown_mode", CountdownMode)
        _coerce(self, owner, "verification", Verification)

    @property
    def min_block_period_scale(self) -> float:
        """Seconds per MinimumBlockPeriod unit, as this client reads the attribute."""
        units = self.min_block_period_units
        if units is BlockPeriodUnits.AUTO:
            units = BlockPeriodUnits.S if self.cluster_revision == 2 else BlockPeriodUnits.MS
        return 1.0 if units is BlockPeriodUnits.S else 0.001

    def replace(self, **changes: object) -> ClientPolicy:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class ServerPolicy:
    """How an OTA server (a Comms Hub) serves images. Defaults: a well-behaved EmberZNet server."""

    block_size_cap: int = framesize.DEFAULT_MAX_BLOCK_DATA
    """Largest DataSize served: by default the largest block one APS-encrypted Smart Energy frame
    holds (56, `emulator.framesize`, as EmberZNet's server computes it; zigpy caps at 50,
    zigbee-herdsman at 50 or 40)."""
    version_policy: VersionPolicy = VersionPolicy.UPGRADE
    """Which stored image a query may get: newer ("upgrade"), older ("downgrade"), equal
    ("reinstall"), any different version ("any"), or nothing ("none")."""
    check_hardware_range: bool = True
    """Answer NO_IMAGE_AVAILABLE when the query's hardware version is outside the file's range."""
    upgrade_time: UpgradeTime = UpgradeTime.NOW
    """Upgrade End Response: "now" (UpgradeTime 0), "delay" (`upgrade_delay_s`), or "wait"
    (0xFFFFFFFF, then an unsolicited "upgrade now" after `release_after_s`)."""
    upgrade_delay_s: int = 120
    release_after_s: float | None = None
    """With upgrade_time "wait": seconds after the Upgrade End Request before "upgrade now";
    None means never (the head-end releases it)."""
    use_utc: bool = False
    """Send times in UTC form (CurrentTime = now) instead of relative form (CurrentTime 0)."""
    utc_epoch_offset: int = 0x2EE00000
    """UTCTime (seconds since 2000-01-01) of virtual time 0 when `use_utc` is on."""
    wait_for_data_s: int = 0
    """Answer the first Image Block Request of a download with WAIT_FOR_DATA for this long."""
    min_block_period: int | None = None
    """The MinimumBlockPeriod this server wants; requests carrying another value (or arriving
    sooner than it allows) get WAIT_FOR_DATA with it. None: no rate limiting."""
    min_block_period_scale: float = 0.001
    """Seconds per MinimumBlockPeriod unit as this server counts them (ms by default)."""
    support_page_requests: bool = True
    """False: Image Page Requests get Default Response UNSUP_CLUSTER_COMMAND."""
    support_device_specific_files: bool = True
    """False: Query Device Specific File gets Default Response UNSUP_CLUSTER_COMMAND."""
    misbehaviour: ServerFault = ServerFault.NONE
    """Fault to inject for client tests (`ServerFault`): "stall", "abort", "wrong-offset",
    "wrong-size", "corrupt-data", "wrong-file-version", "endless-wait", "duplicate"."""
    misbehave_from_offset: int = 0
    """File offset from which the misbehaviour starts."""
    misbehave_count: int | None = None
    """How many requests misbehave (None: all from the offset on)."""

    def __post_init__(self) -> None:
        owner = "ServerPolicy"
        _check_range(owner, "block_size_cap", self.block_size_cap, 1, 255)
        _coerce(self, owner, "version_policy", VersionPolicy)
        _coerce(self, owner, "upgrade_time", UpgradeTime)
        _coerce(self, owner, "misbehaviour", ServerFault)
        _check_range(owner, "upgrade_delay_s", self.upgrade_delay_s, 0, 0xFFFFFFFE)
        _check_range(owner, "wait_for_data_s", self.wait_for_data_s, 0, 0xFFFFFFFE)
        _check_range(owner, "utc_epoch_offset", self.utc_epoch_offset, 1, 0xFFFFFFFE)
        _check_range(owner, "misbehave_from_offset", self.misbehave_from_offset, 0, 1 << 32)
        _check_range(owner, "min_block_period_scale", self.min_block_period_scale, 0.0001, 1)
        if self.min_block_period is not None:
            _check_range(owner, "min_block_period", self.min_block_period, 0, 0xFFFE)
        if self.release_after_s is not None:
            _check_range(owner, "release_after_s", self.release_after_s, 0, 1 << 32)
        if self.misbehave_count is not None:
            _check_range(owner, "misbehave_count", self.misbehave_count, 0, 1 << 32)

    @property
    def time_form(self) -> TimeForm:
        """The form of the times this server sends (`use_utc`)."""
        return TimeForm.UTC if self.use_utc else TimeForm.RELATIVE

    def replace(self, **changes: object) -> ServerPolicy:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
