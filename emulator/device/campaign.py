"""The head-end side of a firmware campaign: what to distribute and how to activate it.

An `ActivationPlan` says how the supplier (or an impostor) asks a device to activate the image it
was sent: Critical or Non-Critical CS06, the Comms Hub's instruction (CH-managed), or nothing; from
which party; carrying which hash; now or future-dated, perhaps cancelled, perhaps replayed.
`ActivationPlan.commands` turns that into the CS06 bytes the head-end sends (through
`emulator.gbcs.headend.HeadEnd`, keys from the throw-away test PKI). `profile_image` builds a GB
OTA Upgrade Image that fits a profile's OTA identity, from a seeded random Manufacturer Image.

Virtual time 0 is `EPOCH` (2026-01-01T00:00:00Z); `at_time` and `seconds_at` convert, so GBCS
calendar times in a run are reproducible.

This module owns turning a campaign's intent into bytes; it never delivers them, never decides
whether a device accepts (the device's `ActivationHandler` does) and never reads wall time.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import random
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from emulator.errors import CampaignError
from emulator.gbcs.activation import ACTIVATION_RULES
from emulator.gbcs.headend import TEST_ENTITY_IDS, HeadEnd, RemoteParty
from emulator.gbcs.messages import HASH_LENGTH
from emulator.ota.image import build_gb_image
from emulator.profiles import DeviceProfile
from emulator.testpki import DEFAULT_SEED, derive_key

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""The calendar time of virtual time 0."""


class ActivationMode(enum.StrEnum):
    """How the head-end asks a device to activate; `auto` takes the profile's activation
    class (see `ActivationPlan.resolved_mode`)."""

    AUTO = "auto"
    CRITICAL = "critical"
    NON_CRITICAL = "non-critical"
    CH_MANAGED = "ch-managed"
    DISPLAY_MESSAGE = "display-message"
    """The supplier has the ESME send a Display Message naming the image's hash (paper IHD
    option 2); no GBCS command reaches the device."""
    NONE = "none"


MODES = tuple(m.value for m in ActivationMode)
CS06_MODES = (ActivationMode.CRITICAL, ActivationMode.NON_CRITICAL)

PARTIES: dict[str, tuple[str, str]] = {
    "A": ("supplier-a", "supplier-a"),
    "B": ("supplier-b", "supplier-b"),
    "rogue": ("rogue", "rogue"),
    "forged": ("supplier-a", "rogue"),
}
"""Party name -> (entity id it claims, key it signs with), from the test PKI. `forged` claims to
be supplier A but signs with the rogue key."""

DEFAULT_IMAGE_SIZE = 65536


def at_time(seconds: float) -> dt.datetime:
    """The calendar time of virtual time `seconds`."""
    return EPOCH + dt.timedelta(seconds=seconds)


def seconds_at(when: dt.datetime) -> float:
    """The virtual time of calendar time `when` (timezone-aware)."""
    if when.tzinfo is None:
        raise CampaignError(f"time {when.isoformat()} has no timezone")
    return (when - EPOCH).total_seconds()


def party(name: str, seed: int = DEFAULT_SEED) -> RemoteParty:
    """The remote party `name` (A, B, rogue or forged) of the test PKI under `seed`."""
    try:
        entity, key = PARTIES[name]
    except KeyError:
        raise CampaignError(
            f"unknown supplier {name!r}: expected one of {', '.join(PARTIES)}"
        ) from None
    return RemoteParty(TEST_ENTITY_IDS[entity], derive_key(key, seed))


@dataclass(frozen=True, slots=True)
class ActivationPlan:
    """How the head-end asks one device to activate the image it was sent.

    `image_hash` overrides the hash the command carries (default: SHA-256 of the Manufacturer
    Image sent). `at` future-dates the activation (for `ch-managed`: when the hub instructs);
    `cancel` follows a future-dated command with a cancellation (executionDateTime
    9999-12-31T23:59:59Z); `replay` sends the activation command's exact bytes once more, last.
    """

    mode: ActivationMode = ActivationMode.AUTO
    supplier: str = "A"
    image_hash: bytes | None = None
    at: dt.datetime | None = None
    cancel: bool = False
    replay: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise CampaignError(
                f"activation mode must be one of {', '.join(MODES)}, got {self.mode!r}"
            )
        object.__setattr__(self, "mode", ActivationMode(self.mode))
        if self.supplier not in PARTIES:
            raise CampaignError(
                f"unknown supplier {self.supplier!r}: expected one of {', '.join(PARTIES)}"
            )
        if self.image_hash is not None and len(self.image_hash) != HASH_LENGTH:
            raise CampaignError(
                f"image hash must be {HASH_LENGTH} octets, got {len(self.image_hash)}"
            )
        if self.at is not None and self.at.tzinfo is None:
            raise CampaignError(f"activation time {self.at.isoformat()} has no timezone")
        if self.cancel and self.at is None:
            raise CampaignError("cancel needs a future-dated activation time (--at)")
        if self.mode is ActivationMode.NONE and (self.at or self.cancel or self.replay):
            raise CampaignError("activation mode none sends no command to date, cancel or replay")
        if self.mode is ActivationMode.CH_MANAGED and (self.cancel or self.replay):
            raise CampaignError("the Comms Hub's instruction cannot be cancelled or replayed")
        if self.mode is ActivationMode.DISPLAY_MESSAGE and (self.at or self.cancel or self.replay):
            raise CampaignError(
                "a Display Message activation cannot be dated, cancelled or replayed"
            )

    def resolved_mode(self, profile: DeviceProfile) -> ActivationMode:
        """The concrete mode: `auto` becomes what the profile's activation class lets a remote
        party do (`ACTIVATION_RULES`): its CS06 class, the Comms Hub's instruction, a Display
        Message, or none."""
        if self.mode != ActivationMode.AUTO:
            return ActivationMode(self.mode)
        rule = ACTIVATION_RULES[profile.activation]
        if rule.accepts_cs06:
            return (
                ActivationMode.CRITICAL if rule.signature_required else ActivationMode.NON_CRITICAL
            )
        if rule.ch_activates:
            return ActivationMode.CH_MANAGED
        if rule.display_message_activates:
            return ActivationMode.DISPLAY_MESSAGE
        return ActivationMode.NONE

    def commands(
        self,
        device_id: bytes,
        device_ka_public: ec.EllipticCurvePublicKey,
        manufacturer_image_hash: bytes,
        *,
        seed: int = DEFAULT_SEED,
        mode: str | None = None,
        headend: HeadEnd | None = None,
    ) -> list[bytes]:
        """The CS06 commands to send, in order (none for the other modes).

        `mode` is the concrete mode (pass `resolved_mode(profile)` when the plan says `auto`).
        `headend` keeps originator counters across campaigns (default: a fresh one for `seed`).
        """
        mode = mode or self.mode
        if mode not in MODES:
            raise CampaignError(f"activation mode must be one of {', '.join(MODES)}, got {mode!r}")
        mode = ActivationMode(mode)
        if mode is ActivationMode.AUTO:
            raise CampaignError("activation mode auto must be resolved against a profile first")
        if mode not in CS06_MODES:
            return []
        headend = headend if headend is not None else HeadEnd(derive_key("acb", seed))
        sender = party(self.supplier, seed)
        critical = mode is ActivationMode.CRITICAL
        image_hash = self.image_hash if self.image_hash is not None else manufacturer_image_hash
        first = headend.activate_firmware(
            sender,
            device_id,
            device_ka_public,
            image_hash,
            execution_time=self.at,
            critical=critical,
        )
        out = [first]
        if self.cancel:
            out.append(
                headend.cancel_activation(
                    sender, device_id, device_ka_public, image_hash, critical=critical
                )
            )
        if self.replay:
            out.append(first)
        return out


def manufacturer_image_for(profile: DeviceProfile, *, size: int, seed: int) -> bytes:
    """A random Manufacturer Image of `size` bytes, the same for the same profile and seed."""
    if size < 1:
        raise CampaignError(f"image size must be at least 1 byte, got {size}")
    return random.Random(f"hanemu campaign/{seed}/{profile.name}").randbytes(size)


def profile_image(
    profile: DeviceProfile,
    *,
    file_version: int | None = None,
    size: int = DEFAULT_IMAGE_SIZE,
    seed: int = DEFAULT_SEED,
    supplier: str = "A",
    pki_seed: int = DEFAULT_SEED,
) -> bytes:
    """A GB OTA Upgrade Image that fits `profile` (manufacturer, image type, hardware range)
    and is newer than what it runs: a Manufacturer Image drawn from `seed`, signed by
    `supplier` of the test PKI under `pki_seed`."""
    z = profile.zigbee
    if file_version is None:
        file_version = z.firmware_version + 1
    if not 0 <= file_version <= 0xFFFFFFFF:
        raise CampaignError(f"file version {file_version} does not fit in 32 bits")
    signer = party(supplier, pki_seed)
    return build_gb_image(
        manufacturer_image_for(profile, size=size, seed=seed),
        manufacturer_id=z.manufacturer_id,
        image_type=z.image_type,
        file_version=file_version,
        min_hw=z.hardware_version,
        max_hw=z.hardware_version,
        header_string=f"hanemu {profile.name} image"[:32],
        supplier_key=signer.signing_key,
    )


def image_hash(manufacturer_image: bytes) -> bytes:
    """SHA-256 of a Manufacturer Image: what CS06 and the receipt alert carry."""
    return hashlib.sha256(manufacturer_image).digest()
