"""Device profiles: `profiles/*.toml` resolved into frozen, validated dataclasses.

A profile says what a device is (IHD, PPMID, HCALCS, CAD), how it looks on Zigbee, how its OTA
client behaves (`[ota]`, mapped field by field onto `emulator.ota.policy.ClientPolicy`, the one
source of truth for those knob names) and who may activate its firmware (activation class,
supplier certificate slots, provenance, consent, delivery routes). `extends = "name"` merges a
base profile under the file's own keys (tables merge key by key; arrays and values replace).

Every key is checked against the declarations below; a bad file gives one `ProfileError` line
naming the file and the dotted key. This module owns reading and validating profile files; it
never holds device behaviour (the device asks its profile, the profile never acts).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.errors import PolicyError, ProfileError
from emulator.gbcs.activation import ACTIVATION_CLASSES
from emulator.ota.policy import ClientPolicy

PROFILES_DIR = Path(
    os.environ.get("HANEMU_PROFILES", Path(__file__).resolve().parent.parent / "profiles")
)

_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
DEVICE_TYPES = ("IHD", "PPMID", "HCALCS", "CAD")
PROVENANCES = ("supplier", "mandated", "consumer", "third-party")
ROUTES = ("dcc", "wifi", "local")
NODE_TYPES = ("router", "end-device")
SUPPLIER_SLOT_COUNTS = (0, 1, 2)
SMART_ENERGY_PROFILE = 0x0109
OTA_CLUSTER = 0x0019
DCC_ACTIVATION_CLASSES = ("critical", "non-critical", "ch-managed", "display-message")
"""Activation classes that only make sense for a device reached over the DCC route."""
DCC_PROVENANCES = ("supplier", "mandated")
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
    node_type: str
    sleepy: bool
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    name: str
    description: str
    source: str
    extends: tuple[str, ...]
    """The chain of base profiles, nearest first."""
    device_type: str
    zigbee: ZigbeeIdentity
    ota: ClientPolicy
    activation: str
    supplier_slots: int
    provenance: str
    consent_required: bool
    routes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Every resolved key as plain JSON-ready data."""
        return _lists(dataclasses.asdict(self))


# --- declarations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Key:
    """A key a profile file may hold: its type and an optional check returning a complaint."""

    kind: type | tuple[type, ...]
    check: Callable[[Any], str | None] | None = None


def _choice(choices: tuple) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"must be one of {', '.join(map(str, choices))}"


def _range(low: int, high: int) -> Callable[[Any], str | None]:
    return lambda v: None if low <= v <= high else f"must be in [0x{low:X}, 0x{high:X}]"


def _clusters(v: list) -> str | None:
    if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 0xFFFF for c in v):
        return "must be a list of cluster ids in [0x0, 0xFFFF]"
    return None


_TOP: dict[str, _Key] = {
    "description": _Key(str),
    "device_type": _Key(str, _choice(DEVICE_TYPES)),
    "activation": _Key(str, _choice(ACTIVATION_CLASSES)),
    "supplier_slots": _Key(int, _choice(SUPPLIER_SLOT_COUNTS)),
    "provenance": _Key(str, _choice(PROVENANCES)),
    "consent_required": _Key(bool),
    "routes": _Key(
        list,
        lambda v: (
            None
            if v and all(r in ROUTES for r in v) and len(set(v)) == len(v)
            else f"must be a non-empty list of distinct routes from {', '.join(ROUTES)}"
        ),
    ),
}
_ZIGBEE: dict[str, _Key] = {
    "profile_id": _Key(
        int, lambda v: None if v == SMART_ENERGY_PROFILE else "must be 0x0109 (Smart Energy)"
    ),
    "device_id": _Key(int, _range(0, 0xFFFF)),
    "manufacturer_id": _Key(int, _range(0, 0xFFFF)),
    "image_type": _Key(int, _range(0, 0xFFFF)),
    "hardware_version": _Key(int, _range(0, 0xFFFF)),
    "firmware_version": _Key(int, _range(0, 0xFFFFFFFF)),
    "node_type": _Key(str, _choice(NODE_TYPES)),
    "sleepy": _Key(bool),
    "endpoints": _Key(list, lambda v: None if v else "must list at least one endpoint"),
}
_ENDPOINT: dict[str, _Key] = {
    "id": _Key(int, _range(1, 240)),
    "input_clusters": _Key(list, _clusters),
    "output_clusters": _Key(list, _clusters),
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
    return _build(name, data, origins, chain, _display(directory / f"{name}.toml"))


def load_all(directory: Path | None = None) -> list[DeviceProfile]:
    return [load_profile(n, directory) for n in profile_names(directory)]


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read(path: Path) -> dict[str, Any]:
    source = _display(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        known = ", ".join(profile_names(path.parent)) or "none"
        raise ProfileError(source, None, f"no such profile file (profiles: {known})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, None, f"invalid TOML: {exc}") from None


def _resolve(
    name: str, directory: Path, seen: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, str], tuple[str, ...]]:
    """(merged data, dotted key -> file it came from, chain of bases nearest first)."""
    path = directory / f"{name}.toml"
    source = _display(path)
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
        if not (directory / f"{base_name}.toml").is_file():
            raise ProfileError(source, "extends", f"no profile named {base_name!r}")
        data, origins, base_chain = _resolve(base_name, directory, (*seen, name))
        chain = (base_name, *base_chain)
    _merge(data, raw, origins, source, "")
    return data, origins, chain


def _merge(
    into: dict[str, Any], new: Mapping[str, Any], origins: dict[str, str], source: str, prefix: str
) -> None:
    for key, value in new.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, origins, source, f"{dotted}.")
        else:
            into[key] = copy.deepcopy(value)
            for old in [k for k in origins if k.startswith(f"{dotted}.")]:
                del origins[old]
            _record(origins, value, source, dotted)


def _record(origins: dict[str, str], value: Any, source: str, dotted: str) -> None:
    origins[dotted] = source
    if isinstance(value, dict):
        for key, inner in value.items():
            _record(origins, inner, source, f"{dotted}.{key}")


# --- validation ----------------------------------------------------------------------------------


class _Checker:
    """Checks values against declarations, naming the file each key came from."""

    def __init__(self, origins: dict[str, str], leaf: str):
        self.origins = origins
        self.leaf = leaf

    def fail(self, key: str, what: str, *, here: bool = False) -> ProfileError:
        """The error for `key`, naming the file the key came from (or the profile's own file
        when `here`, for rules that tie keys together)."""
        source = self.origins.get(key) or self.origins.get(key.split("[")[0]) or self.leaf
        return ProfileError(self.leaf if here else source, key, what)

    def table(self, data: Any, spec: dict[str, _Key], prefix: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(prefix.rstrip(".") or "(top)", "must be a table")
        for key in data:
            if key not in spec:
                raise self.fail(f"{prefix}{key}", f"unknown key (expected {', '.join(spec)})")
        out = {}
        for key, declared in spec.items():
            dotted = f"{prefix}{key}"
            if key not in data:
                raise self.fail(dotted, "missing")
            out[key] = self.value(dotted, data[key], declared)
        return out

    def value(self, dotted: str, value: Any, declared: _Key) -> Any:
        kinds = declared.kind if isinstance(declared.kind, tuple) else (declared.kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(dotted, f"must be {_kind_name(kinds)}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.fail(dotted, f"must be {_kind_name(kinds)}, got {value!r}")
        if declared.check is not None:
            complaint = declared.check(value)
            if complaint is not None:
                raise self.fail(dotted, f"{complaint}, got {value!r}")
        return value


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _build(
    name: str, data: dict[str, Any], origins: dict[str, str], chain: tuple[str, ...], leaf: str
) -> DeviceProfile:
    check = _Checker(origins, leaf)
    data.setdefault("ota", {})  # every OTA knob has a default
    top = check.table(data, {**_TOP, "zigbee": _Key(dict), "ota": _Key(dict)}, "")
    zigbee = check.table(top["zigbee"], _ZIGBEE, "zigbee.")
    endpoints = []
    for index, raw in enumerate(zigbee["endpoints"]):
        ep = check.table(raw, _ENDPOINT, f"zigbee.endpoints[{index}].")
        endpoints.append(
            Endpoint(ep["id"], tuple(ep["input_clusters"]), tuple(ep["output_clusters"]))
        )
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
    )
    ota = _client_policy(check, top["ota"], identity)
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
        provenance=top["provenance"],
        consent_required=top["consent_required"],
        routes=tuple(top["routes"]),
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
    try:
        return ClientPolicy(**values)
    except PolicyError as exc:
        message = str(exc)
        key = next((k for k in values if f"ClientPolicy.{k} " in message), None)
        raise check.fail(f"ota.{key}" if key else "ota", message) from None


def _cross_check(check: _Checker, p: DeviceProfile) -> None:
    """Rules that tie keys together (each names the key to change)."""
    if p.activation == "critical" and p.supplier_slots == 0:
        raise check.fail(
            "supplier_slots", "a critical device needs at least one supplier slot", here=True
        )
    if p.activation in DCC_ACTIVATION_CLASSES and "dcc" not in p.routes:
        raise check.fail("routes", f'activation {p.activation!r} needs the "dcc" route', here=True)
    if "dcc" in p.routes and p.provenance not in DCC_PROVENANCES:
        raise check.fail(
            "routes",
            f'the "dcc" route is for supplier or mandated devices, not {p.provenance}',
            here=True,
        )
    if p.zigbee.sleepy and p.zigbee.node_type != "end-device":
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
