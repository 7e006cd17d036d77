"""Home files: `profiles/homes/*.toml` read and checked into frozen dataclasses.

`load_home(path)` reads a home file (TOML, documented in docs/homes.md), checks every key,
resolves every device profile, and raises `HomeFileError` naming the file and the key for
anything wrong, e.g. `error: homes/x.toml: key device[2].profile: unknown profile 'ihd-opt9'
(profiles: cad, hcalcs, ...)`. This module owns reading home files; it never runs anything.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.device.campaign import MODES, PARTIES
from emulator.errors import HanemuError, ProfileError
from emulator.profiles import DeviceProfile, load_profile, profile_names

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOMES_DIR = PROJECT_DIR / "profiles" / "homes"
DEFAULT_HOME = HOMES_DIR / "default.toml"

RADIOS = ("virtual",)
SERVERS = ("hanemu", "zigpy")
ROUTES = ("dcc", "wifi", "local")
OUTCOMES = ("activated", "downloaded", "rejected", "no-image", "failed")
ACTIVATE = MODES
"""How a campaign asks for activation: as `hanemu ota simulate --activate`."""
SUPPLIERS = tuple(PARTIES)
"""Who signs the image and the CS06 commands (A, B, rogue, or forged: claims A, signs as rogue)."""
MAX_BLOCK = 64
"""Largest block a home may serve: one unfragmented 802.15.4 frame (127 bytes) holds the MAC,
NWK and APS headers and an Image Block Response carrying 64 bytes."""


class HomeFileError(HanemuError):
    """A home file that cannot be used: one line naming the file and the key."""

    def __init__(self, source: str, key: str | None, what: str):
        self.source, self.key, self.what = source, key, what
        super().__init__(f"{source}: {what}" if key is None else f"{source}: key {key}: {what}")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    implementation: str = "hanemu"
    max_block_size: int = 50
    minimum_block_period: int = 0
    """Milliseconds between Image Block Requests the server asks for (0: no limit)."""
    page_requests: bool = True
    upgrade_time: tuple[str, int] = ("now", 0)


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    name: str
    profile: DeviceProfile
    firmware_version: int
    route: str
    expect: str | None


@dataclass(frozen=True, slots=True)
class Build:
    file_version: int
    size: int


@dataclass(frozen=True, slots=True)
class CampaignConfig:
    device: str
    image: Path | None
    build: Build | None
    activate: str = "auto"
    at: float = 0.0
    supplier: str = "A"


@dataclass(frozen=True, slots=True)
class Faults:
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    corrupt_rate: float = 0.0
    power_loss_at: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class HomeConfig:
    source: str
    name: str
    seed: int
    radio: str
    duration: float
    server: ServerConfig
    devices: tuple[DeviceConfig, ...]
    campaigns: tuple[CampaignConfig, ...] = ()
    faults: Faults = field(default_factory=Faults)

    def targets(self, campaign: CampaignConfig) -> list[DeviceConfig]:
        """Devices a campaign addresses: by device name, by profile name, or `*`."""
        return [d for d in self.devices if campaign.device in ("*", d.name, d.profile.name)]


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str | None, what: str) -> HomeFileError:
        return HomeFileError(self.source, key, what)

    def table(self, data: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, "must be a table")
        for name in data:
            if name not in allowed:
                raise self.fail(f"{key}.{name}", f"unknown key (allowed: {', '.join(allowed)})")
        return data

    def get(
        self,
        data: dict[str, Any],
        prefix: str,
        name: str,
        kind: type | tuple[type, ...],
        default: Any = ...,
    ) -> Any:
        key = f"{prefix}.{name}"
        if name not in data:
            if default is ...:
                raise self.fail(key, "missing")
            return default
        value = data[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(key, f"must be {_kind_name(kinds)}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.fail(key, f"must be {_kind_name(kinds)}, got {value!r}")
        return value

    def number(self, data, prefix, name, low, high, default=..., *, integer=False):
        value = self.get(data, prefix, name, int if integer else (int, float), default)
        if value is not default and not low <= value <= high:
            raise self.fail(f"{prefix}.{name}", f"must be in {low}..{high}, got {value!r}")
        return value

    def choice(self, data, prefix, name, choices, default=...):
        value = self.get(data, prefix, name, str, default)
        if value is not default and value not in choices:
            raise self.fail(
                f"{prefix}.{name}", f"must be one of {', '.join(choices)}, got {value!r}"
            )
        return value


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _upgrade_time(reader: _Reader, value: Any) -> tuple[str, int]:
    key = "server.upgrade_time"
    if isinstance(value, bool):
        raise reader.fail(key, f"must be 'now', 'wait' or seconds, got {value!r}")
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFFFFFE:
            raise reader.fail(key, f"must be in 0..4294967294 seconds, got {value}")
        return ("delay", value)
    if value in ("now", "wait"):
        return (value, 0)
    raise reader.fail(key, f"must be 'now', 'wait' or seconds, got {value!r}")


def load_home(path: str | Path, *, profiles_dir: Path | None = None) -> HomeConfig:
    """Read and check a home file."""
    path = Path(path)
    source = _display(path)
    r = _Reader(source)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise r.fail(None, "no such home file") from None
    except IsADirectoryError:
        raise r.fail(None, "is a directory, not a home file") from None
    except tomllib.TOMLDecodeError as exc:
        raise r.fail(None, f"invalid TOML: {exc}") from None
    r.table(data, "(top level)", ("home", "server", "device", "campaign", "faults"))

    home = r.table(data.get("home", {}), "home", ("name", "seed", "radio", "duration"))
    name = r.get(home, "home", "name", str, path.stem)
    seed = r.number(home, "home", "seed", 0, 2**63 - 1, 0, integer=True)
    radio = r.choice(home, "home", "radio", RADIOS, "virtual")
    duration = float(r.number(home, "home", "duration", 1, 30 * 86400, 2 * 86400))

    srv = r.table(
        data.get("server", {}),
        "server",
        (
            "implementation",
            "max_block_size",
            "minimum_block_period",
            "page_requests",
            "upgrade_time",
        ),
    )
    server = ServerConfig(
        implementation=r.choice(srv, "server", "implementation", SERVERS, "hanemu"),
        max_block_size=r.number(srv, "server", "max_block_size", 1, MAX_BLOCK, 50, integer=True),
        minimum_block_period=r.number(
            srv, "server", "minimum_block_period", 0, 0xFFFE, 0, integer=True
        ),
        page_requests=r.get(srv, "server", "page_requests", bool, True),
        upgrade_time=_upgrade_time(r, srv.get("upgrade_time", "now")),
    )

    raw_devices = data.get("device", [])
    if not isinstance(raw_devices, list) or not raw_devices:
        raise r.fail("device", "a home needs at least one [[device]]")
    devices: list[DeviceConfig] = []
    known = None
    for i, raw in enumerate(raw_devices):
        prefix = f"device[{i}]"
        d = r.table(raw, prefix, ("name", "profile", "firmware_version", "route", "expect"))
        dname = r.get(d, prefix, "name", str)
        if any(x.name == dname for x in devices):
            raise r.fail(f"{prefix}.name", f"device name {dname!r} is used twice")
        pname = r.get(d, prefix, "profile", str)
        if known is None:
            known = profile_names(profiles_dir)
        if pname not in known:
            raise r.fail(
                f"{prefix}.profile", f"unknown profile {pname!r} (profiles: {', '.join(known)})"
            )
        try:
            profile = load_profile(pname, profiles_dir)
        except ProfileError as exc:
            raise r.fail(f"{prefix}.profile", f"profile {pname!r} does not load: {exc}") from None
        version = r.number(
            d,
            prefix,
            "firmware_version",
            0,
            0xFFFFFFFE,
            profile.zigbee.firmware_version,
            integer=True,
        )
        route = r.choice(d, prefix, "route", ROUTES, profile.routes[0])
        if route not in profile.routes:
            raise r.fail(
                f"{prefix}.route",
                f"profile {pname} allows routes {', '.join(profile.routes)}, not {route!r}",
            )
        expect = r.choice(d, prefix, "expect", OUTCOMES, None)
        devices.append(DeviceConfig(dname, profile, version, route, expect))

    raw_campaigns = data.get("campaign", [])
    if not isinstance(raw_campaigns, list):
        raise r.fail("campaign", "must be an array of tables ([[campaign]])")
    campaigns: list[CampaignConfig] = []
    for i, raw in enumerate(raw_campaigns):
        prefix = f"campaign[{i}]"
        c = r.table(raw, prefix, ("device", "image", "build", "activate", "at", "supplier"))
        target = r.get(c, prefix, "device", str, "*")
        if target != "*" and not any(target in (d.name, d.profile.name) for d in devices):
            raise r.fail(f"{prefix}.device", f"no device or profile named {target!r} in the home")
        image_path = None
        build = None
        if ("image" in c) == ("build" in c):
            raise r.fail(prefix, "needs exactly one of image (a path) or build (a table)")
        if "image" in c:
            image_path = (path.parent / r.get(c, prefix, "image", str)).resolve()
            if not image_path.is_file():
                raise r.fail(f"{prefix}.image", f"no such file {_display(image_path)}")
        else:
            b = r.table(c["build"], f"{prefix}.build", ("file_version", "size"))
            build = Build(
                r.number(b, f"{prefix}.build", "file_version", 0, 0xFFFFFFFE, integer=True),
                r.number(b, f"{prefix}.build", "size", 1, 16 << 20, integer=True),
            )
        campaigns.append(
            CampaignConfig(
                device=target,
                image=image_path,
                build=build,
                activate=r.choice(c, prefix, "activate", ACTIVATE, "auto"),
                at=float(r.number(c, prefix, "at", 0, duration, 0)),
                supplier=r.choice(c, prefix, "supplier", SUPPLIERS, "A"),
            )
        )

    f = r.table(
        data.get("faults", {}),
        "faults",
        ("drop_rate", "duplicate_rate", "corrupt_rate", "power_loss_at"),
    )
    cuts = r.get(f, "faults", "power_loss_at", (list, int, float), [])
    cuts = cuts if isinstance(cuts, list) else [cuts]
    for j, cut in enumerate(cuts):
        if isinstance(cut, bool) or not isinstance(cut, int | float) or not 0 <= cut <= 1:
            raise r.fail(f"faults.power_loss_at[{j}]", f"must be a fraction 0..1, got {cut!r}")
    faults = Faults(
        drop_rate=float(r.number(f, "faults", "drop_rate", 0, 0.9, 0.0)),
        duplicate_rate=float(r.number(f, "faults", "duplicate_rate", 0, 1, 0.0)),
        corrupt_rate=float(r.number(f, "faults", "corrupt_rate", 0, 0.9, 0.0)),
        power_loss_at=tuple(float(x) for x in cuts),
    )
    return HomeConfig(
        source=source,
        name=name,
        seed=seed,
        radio=radio,
        duration=duration,
        server=server,
        devices=tuple(devices),
        campaigns=tuple(campaigns),
        faults=faults,
    )
