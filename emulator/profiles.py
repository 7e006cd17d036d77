"""Device profiles: `profiles/*.toml` resolved into frozen, validated dataclasses.

A profile says what a device is (IHD, PPMID, HCALCS, CAD), how it looks on Zigbee, how its OTA
client behaves (`[ota]`, mapped field by field onto `emulator.ota.policy.ClientPolicy`, the one
source of truth for those knob names) and who may activate its firmware (activation class,
supplier certificate slots, provenance, consent, delivery routes). `extends = "name"` merges a
base profile under the file's own keys (tables merge key by key; arrays and values replace).

Every key is checked against the declarations below (read and checked by `emulator.config`); a
bad file gives one `ProfileError` line naming the file the key came from and the dotted key. The
modes a profile names are `StrEnum`s whose values are the TOML spellings. This module owns
resolving and validating profile files; it never holds device behaviour (the device asks its
profile, the profile never acts).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator import config, framesize
from emulator.config import ConfigReader, Key
from emulator.errors import PolicyError, ProfileError
from emulator.gbcs.activation import ActivationClass
from emulator.ota.policy import ClientPolicy

PROFILES_DIR = Path(
    os.environ.get("HANEMU_PROFILES", Path(__file__).resolve().parent.parent / "profiles")
)

_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


class DeviceType(enum.StrEnum):
    """What a device is; shown in reports, never branched on."""

    IHD = "IHD"
    PPMID = "PPMID"
    HCALCS = "HCALCS"
    CAD = "CAD"


class Provenance(enum.StrEnum):
    """Who provided the device."""

    SUPPLIER = "supplier"
    MANDATED = "mandated"
    CONSUMER = "consumer"
    THIRD_PARTY = "third-party"


class SupplierSignature(enum.StrEnum):
    """What a device asks of a downloaded image's supplier signature."""

    REQUIRED = "required"
    """Every image must carry a supplier signature that verifies with a key in one of the
    device's slots; an unsigned image, a plain Zigbee file or a bad signature is refused."""
    NONE = "none"
    """No signature is checked (the PPMID form; devices updated locally)."""


class Route(enum.StrEnum):
    """How firmware reaches a device."""

    DCC = "dcc"
    """ZSE OTA from the Comms Hub, on the supplier's DCC request."""
    WIFI = "wifi"
    """The device's own internet connection."""
    LOCAL = "local"
    """A site visit or a cable."""


class WifiMode(enum.StrEnum):
    """When a device on the Wi-Fi route looks for new firmware."""

    PROACTIVE = "proactive"
    """It polls its manifest URL on its own schedule (`poll_interval_s`)."""
    REACTIVE = "reactive"
    """It checks only when triggered (an HTTP call, or `hanemu home trigger`)."""


class WifiSigner(enum.StrEnum):
    """Whose signature a device on the Wi-Fi route trusts on a manifest."""

    SUPPLIER = "supplier"
    MANUFACTURER = "manufacturer"


@dataclass(frozen=True, slots=True)
class WifiSettings:
    """How a device updates over its own internet connection (`[wifi]`)."""

    mode: WifiMode = WifiMode.PROACTIVE
    poll_interval_s: float = 86400.0
    """Between two manifest checks of a proactive device (the first at its first poll)."""
    signer: WifiSigner = WifiSigner.SUPPLIER
    consent_timeout_s: float = 86400.0
    """How long the device waits for the consumer's answer before it gives up (consent)."""


class NodeType(enum.StrEnum):
    ROUTER = "router"
    END_DEVICE = "end-device"


DEVICE_TYPES = tuple(t.value for t in DeviceType)
PROVENANCES = tuple(p.value for p in Provenance)
ROUTES = tuple(r.value for r in Route)
NODE_TYPES = tuple(n.value for n in NodeType)
SUPPLIER_SLOT_COUNTS = (0, 1, 2)
SMART_ENERGY_PROFILE = 0x0109
OTA_CLUSTER = 0x0019
DCC_ACTIVATION_CLASSES = frozenset(
    {
        ActivationClass.CRITICAL,
        ActivationClass.NON_CRITICAL,
        ActivationClass.CH_MANAGED,
        ActivationClass.DISPLAY_MESSAGE,
    }
)
"""Activation classes that only make sense for a device reached over the DCC route."""
DCC_PROVENANCES = frozenset({Provenance.SUPPLIER, Provenance.MANDATED})
"""The options paper keeps the DCC route to supplier-provided and mandated devices."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    input_clusters: tuple[int, ...]
    output_clusters: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ZigbeeIdentity:
    profile_id: int
    device_id: int
    manufacturer_id: int
    image_type: int
    hardware_version: int
    firmware_version: int
    node_type: NodeType
    sleepy: bool
    endpoints: tuple[Endpoint, ...]
    aps_encryption: bool = True
    """APS-encrypt unicast Smart Energy frames with the link key (NWK security is always on)."""
    aps_extended_nonce: bool = False
    """The APS auxiliary header carries the sender's IEEE address (8 more octets a frame)."""

    @property
    def security(self) -> framesize.Security:
        """How this device's frames are secured, for the frame-size model."""
        return framesize.Security(
            aps_encryption=self.aps_encryption, aps_extended_nonce=self.aps_extended_nonce
        )


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    name: str
    description: str
    source: str
    extends: tuple[str, ...]
    """The chain of base profiles, nearest first."""
    device_type: DeviceType
    zigbee: ZigbeeIdentity
    ota: ClientPolicy
    activation: ActivationClass
    supplier_slots: int
    supplier_signature: SupplierSignature
    provenance: Provenance
    consent_required: bool
    routes: tuple[Route, ...]
    wifi: WifiSettings = WifiSettings()
    deviations: tuple[str, ...] = ()
    """Where this device departs from the Technical Specifications (SMETS/GBCS/CHTS), one
    sentence each: an option that needs them needs a specification change."""

    def to_dict(self) -> dict[str, Any]:
        """Every resolved key as plain JSON-ready data."""
        return _lists(dataclasses.asdict(self))


# --- declarations ------------------------------------------------------------------------------


_Key = Key
_Checker = ConfigReader
"""Older names of the declaration and checker types (`_client_policy` uses them)."""

_TOP: dict[str, Key] = {
    "description": config.text(),
    "device_type": config.choice(DeviceType),
    "activation": config.choice(ActivationClass),
    "supplier_slots": config.choice(SUPPLIER_SLOT_COUNTS),
    "supplier_signature": config.choice(SupplierSignature, default=None),
    "provenance": config.choice(Provenance),
    "consent_required": config.flag(),
    "routes": config.array(config.choice(Route), noun="routes", nonempty=True, distinct=True),
    "zigbee": config.table(),
    "ota": config.table(default={}),  # every OTA knob has a default
    "wifi": config.table(default=None),
    "deviations": config.array(config.text(), noun="sentences", default=()),
}
_WIFI: dict[str, Key] = {
    "mode": config.choice(WifiMode, WifiMode.PROACTIVE),
    "poll_interval_s": config.number(60, 30 * 86400, 86400.0),
    "signer": config.choice(WifiSigner, WifiSigner.SUPPLIER),
    "consent_timeout_s": config.number(1, 30 * 86400, 86400.0),
}
_CLUSTERS = config.array(config.integer(0, 0xFFFF, hex=True), noun="cluster ids")
_ZIGBEE: dict[str, Key] = {
    "profile_id": Key(
        int,
        lambda v: None if v == SMART_ENERGY_PROFILE else "must be 0x0109 (Smart Energy)",
        hex=True,
    ),
    "device_id": config.integer(0, 0xFFFF, hex=True),
    "manufacturer_id": config.integer(0, 0xFFFF, hex=True),
    "image_type": config.integer(0, 0xFFFF, hex=True),
    "hardware_version": config.integer(0, 0xFFFF, hex=True),
    "firmware_version": config.integer(0, 0xFFFFFFFF, hex=True),
    "node_type": config.choice(NodeType),
    "sleepy": config.flag(),
    "endpoints": config.array(noun="endpoint tables", nonempty=True),
    "aps_encryption": config.flag(True),
    "aps_extended_nonce": config.flag(False),
}
_ENDPOINT: dict[str, Key] = {
    "id": config.integer(1, 240),
    "input_clusters": _CLUSTERS,
    "output_clusters": _CLUSTERS,
}
_OTA_FIELDS = {f.name: f for f in dataclasses.fields(ClientPolicy)}
_OTA_FROM_ZIGBEE = ("hardware_version",)
"""ClientPolicy fields filled from `[zigbee]`, so each value is written in one place only."""


# --- loading -------------------------------------------------------------------------------------


def profile_names(directory: Path | None = None) -> list[str]:
    """Names of the profiles in `directory` (default: the project's profiles/), sorted."""
    return sorted(p.stem for p in (directory or PROFILES_DIR).glob("*.toml"))


def load_profile(name: str, directory: Path | None = None) -> DeviceProfile:
    """The resolved profile `name` (a file `<name>.toml` in `directory`)."""
    directory = directory or PROFILES_DIR
    data, origins, chain = _resolve(name, directory, ())
    return _build(name, data, origins, chain, config.display(directory / f"{name}.toml"))


def load_all(directory: Path | None = None) -> list[DeviceProfile]:
    return [load_profile(n, directory) for n in profile_names(directory)]


def _read(path: Path) -> dict[str, Any]:
    known = ", ".join(profile_names(path.parent)) or "none"
    return config.read_toml(
        path, "profile file", missing=f"no such profile file (profiles: {known})"
    )


def _resolve(
    name: str, directory: Path, seen: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, str], tuple[str, ...]]:
    """(merged data, dotted key -> file it came from, chain of bases nearest first)."""
    path = directory / f"{name}.toml"
    source = config.display(path)
    if not _NAME.fullmatch(name):
        raise ProfileError(source, None, "profile names are lower-case letters, digits and dashes")
    if name in seen:
        raise ProfileError(source, "extends", f"inheritance cycle {' -> '.join((*seen, name))}")
    raw = _read(path)
    base_name = raw.pop("extends", None)
    if base_name is None:
        data: dict[str, Any] = {}
        origins: dict[str, str] = {}
        chain: tuple[str, ...] = ()
    else:
        if not isinstance(base_name, str):
            raise ProfileError(source, "extends", "must be a profile name (string)")
        if not _exists(directory, base_name):
            raise ProfileError(source, "extends", f"no profile named {base_name!r}")
        data, origins, base_chain = _resolve(base_name, directory, (*seen, name))
        chain = (base_name, *base_chain)
    _merge(data, raw, origins, source, "")
    return data, origins, chain


def _exists(directory: Path, name: str) -> bool:
    try:
        return bool(_NAME.fullmatch(name)) and (directory / f"{name}.toml").is_file()
    except OSError:  # a name the system refuses (too long)
        return False


def _merge(
    into: dict[str, Any], new: Mapping[str, Any], origins: dict[str, str], source: str, prefix: str
) -> None:
    for key, value in new.items():
        dotted = config.dotted(prefix, key)
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, origins, source, dotted)
        else:
            into[key] = copy.deepcopy(value)
            for old in [k for k in origins if k.startswith(f"{dotted}.")]:
                del origins[old]
            _record(origins, value, source, dotted)


def _record(origins: dict[str, str], value: Any, source: str, dotted: str) -> None:
    origins[dotted] = source
    if isinstance(value, dict):
        for key, inner in value.items():
            _record(origins, inner, source, config.dotted(dotted, key))


# --- validation ----------------------------------------------------------------------------------


def _build(
    name: str, data: dict[str, Any], origins: dict[str, str], chain: tuple[str, ...], leaf: str
) -> DeviceProfile:
    check = ConfigReader(leaf, origins)
    top = check.table(data, "", _TOP)
    zigbee = check.table(top["zigbee"], "zigbee", _ZIGBEE)
    endpoints = []
    for index, raw in enumerate(zigbee["endpoints"]):
        ep = check.table(raw, f"zigbee.endpoints[{index}]", _ENDPOINT)
        endpoints.append(Endpoint(ep["id"], ep["input_clusters"], ep["output_clusters"]))
    if len({e.id for e in endpoints}) != len(endpoints):
        raise check.fail("zigbee.endpoints", "endpoint ids must be distinct")
    identity = ZigbeeIdentity(
        profile_id=zigbee["profile_id"],
        device_id=zigbee["device_id"],
        manufacturer_id=zigbee["manufacturer_id"],
        image_type=zigbee["image_type"],
        hardware_version=zigbee["hardware_version"],
        firmware_version=zigbee["firmware_version"],
        node_type=zigbee["node_type"],
        sleepy=zigbee["sleepy"],
        endpoints=tuple(endpoints),
        aps_encryption=zigbee["aps_encryption"],
        aps_extended_nonce=zigbee["aps_extended_nonce"],
    )
    if identity.aps_extended_nonce and not identity.aps_encryption:
        raise check.fail(
            "zigbee.aps_extended_nonce",
            "the extended nonce is part of APS encryption: set zigbee.aps_encryption = true",
            here=True,
        )
    ota = _client_policy(check, top["ota"], identity)
    wifi = WifiSettings()
    if top["wifi"] is not None:
        if Route.WIFI not in top["routes"]:
            raise check.fail("wifi", 'only a device with the "wifi" route has [wifi] settings')
        wifi = WifiSettings(**check.table(top["wifi"], "wifi", _WIFI))
    profile = DeviceProfile(
        name=name,
        description=top["description"],
        source=leaf,
        extends=chain,
        device_type=top["device_type"],
        zigbee=identity,
        ota=ota,
        activation=top["activation"],
        supplier_slots=top["supplier_slots"],
        supplier_signature=top["supplier_signature"]
        or (SupplierSignature.REQUIRED if top["supplier_slots"] else SupplierSignature.NONE),
        provenance=top["provenance"],
        consent_required=top["consent_required"],
        routes=top["routes"],
        wifi=wifi,
        deviations=top["deviations"],
    )
    _cross_check(check, profile)
    return profile


def _client_policy(
    check: _Checker, table: dict[str, Any], identity: ZigbeeIdentity
) -> ClientPolicy:
    values: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"ota.{key}"
        field = _OTA_FIELDS.get(key)
        if field is None:
            raise check.fail(dotted, "unknown OTA client knob (see ClientPolicy)")
        if key in _OTA_FROM_ZIGBEE:
            raise check.fail(dotted, f"set zigbee.{key} instead (one place per value)")
        default = field.default
        if isinstance(default, bool):
            kinds: tuple[type, ...] = (bool,)
        elif isinstance(default, int):
            kinds = (int,)
        elif isinstance(default, float):
            kinds = (int, float)
        elif isinstance(default, str):
            kinds = (str,)
        else:  # None default: only zigbee-filled fields, refused above
            kinds = (int,)
        values[key] = check.value(dotted, value, _Key(kinds))
        if isinstance(default, float):
            values[key] = float(value)
    values["hardware_version"] = identity.hardware_version
    # MaximumDataSize: by default the largest block one frame of this device holds; a value
    # the file states is kept, unless no frame of this device could carry such a block.
    security = identity.security
    values.setdefault("max_data_size", framesize.max_block_data(security))
    try:
        policy = ClientPolicy(**values)
    except PolicyError as exc:
        message = str(exc)
        key = next((k for k in values if f"ClientPolicy.{k} " in message), None)
        raise check.fail(f"ota.{key}" if key else "ota", message) from None
    problem = framesize.block_data_problem(policy.max_data_size, security)
    if problem is not None:
        raise check.fail("ota.max_data_size", problem)
    return policy


def _cross_check(check: ConfigReader, p: DeviceProfile) -> None:
    """Rules that tie keys together (each names the key to change)."""
    required = p.supplier_signature is SupplierSignature.REQUIRED
    if p.supplier_slots and not required:
        raise check.fail(
            "supplier_signature",
            "a device with supplier slots requires a signature from one of them",
            here=True,
        )
    if required and not p.supplier_slots:
        raise check.fail(
            "supplier_signature", "a required signature needs at least one supplier slot", here=True
        )
    if required and p.ota.verification == "none":
        raise check.fail(
            "ota.verification",
            'a device that requires a supplier signature cannot skip verification ("none")',
            here=True,
        )
    if p.activation in DCC_ACTIVATION_CLASSES and Route.DCC not in p.routes:
        raise check.fail(
            "routes", f'activation {p.activation.value!r} needs the "dcc" route', here=True
        )
    if Route.DCC in p.routes and p.provenance not in DCC_PROVENANCES:
        raise check.fail(
            "routes",
            f'the "dcc" route is for supplier or mandated devices, not {p.provenance}',
            here=True,
        )
    if p.zigbee.sleepy and p.zigbee.node_type is not NodeType.END_DEVICE:
        raise check.fail("zigbee.sleepy", "only an end-device can be sleepy", here=True)
    if not any(OTA_CLUSTER in e.output_clusters for e in p.zigbee.endpoints):
        raise check.fail(
            "zigbee.endpoints", "no endpoint has the OTA cluster (0x0019) as client", here=True
        )


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value
