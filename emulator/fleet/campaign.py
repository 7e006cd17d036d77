"""Fleet campaign files: `profiles/campaigns/*.toml` read and checked into a `FleetCampaign`.

A campaign file (TOML, documented in docs/fleet.md) says how many homes, the mix of home kinds
(shares of single-fuel, dual-fuel, HCALCS and CAD homes), the option per device type (a profile
name: the device's route is the profile's first), the image every device is sent, the waves the
DCC starts homes in, how often a home that did not come out as expected is run again, the link
faults and the seed. Every key is checked through `emulator.config`; anything wrong is one
`ConfigError` naming the file and the dotted key (`mix`, `options.ihd`, `waves.spacing_s`).

This module owns reading campaign files and the home kinds; it never runs anything, never
writes a file and never reads wall time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator import config
from emulator.config import ConfigReader
from emulator.errors import ProfileError
from emulator.profiles import DeviceProfile, DeviceType, Route, load_profile, profile_names
from emulator.radio.air import normal_radio, radio_problem
from emulator.testpki import DEFAULT_SEED

CAMPAIGNS_DIR = Path(__file__).resolve().parent.parent.parent / "profiles" / "campaigns"
DEFAULT_CAMPAIGN = CAMPAIGNS_DIR / "gb-mix.toml"

MAX_HOMES = 1_000_000
"""The most homes one campaign may have (a GB supplier's fleet is a few million devices: run
it as several campaigns)."""
SHARE_TOLERANCE = 1e-6
"""How far the shares of the mix may sum from 1."""

KINDS: dict[str, tuple[DeviceType, ...]] = {
    "single_fuel": (DeviceType.IHD,),
    "dual_fuel": (DeviceType.IHD, DeviceType.PPMID),
    "hcalcs": (DeviceType.IHD, DeviceType.HCALCS),
    "cad": (DeviceType.IHD, DeviceType.CAD),
}
"""Home kinds of a mix -> the HAN devices (besides the meters and the Comms Hub) such a home
has: every home has its IHD; a dual-fuel home a PPMID too; the others an HCALCS or a CAD."""


@dataclass(frozen=True, slots=True)
class Waves:
    """How the DCC starts homes: at most `homes` in each wave, waves `spacing_s` apart."""

    homes: int = MAX_HOMES
    spacing_s: float = 0.0

    def wave(self, index: int) -> int:
        """The wave home `index` is started in (0 first)."""
        return index // self.homes

    def start(self, index: int) -> float:
        """Fleet time at which home `index` is started."""
        return self.wave(index) * self.spacing_s


@dataclass(frozen=True, slots=True)
class FleetCampaign:
    """A campaign over many homes, as its file says (every profile loaded and checked)."""

    source: str
    name: str
    homes: int
    seed: int
    mix: tuple[tuple[str, float], ...]
    """(home kind, share), in `KINDS` order, shares summing to 1."""
    options: tuple[tuple[DeviceType, DeviceProfile], ...]
    """The option (profile) of each device type the mix needs."""
    image_size: int = 262144
    file_version: int | None = None
    """None: each profile's running version + 1."""
    supplier: str = "A"
    waves: Waves = field(default_factory=Waves)
    retries: int = 0
    duration: float = 2 * 86400.0
    """Scenario time each home may take."""
    radio: str = "direct"
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    corrupt_rate: float = 0.0
    pki_seed: int = DEFAULT_SEED
    description: str = ""

    def profile(self, device_type: DeviceType) -> DeviceProfile:
        return dict(self.options)[device_type]

    def replace(self, **changes: Any) -> FleetCampaign:
        from dataclasses import replace

        return replace(self, **changes)

    def parameters(self) -> dict[str, Any]:
        """Every parameter of the campaign as plain data (what the results database keeps)."""
        return {
            "name": self.name,
            "source": self.source,
            "description": self.description,
            "homes": self.homes,
            "seed": self.seed,
            "mix": dict(self.mix),
            "options": {str(t).lower(): p.name for t, p in self.options},
            "routes": {str(t).lower(): str(route_of(p)) for t, p in self.options},
            "image_size": self.image_size,
            "file_version": self.file_version,
            "supplier": self.supplier,
            "homes_per_wave": self.waves.homes,
            "wave_spacing_s": self.waves.spacing_s,
            "retries": self.retries,
            "duration_s": self.duration,
            "radio": self.radio,
            "drop_rate": self.drop_rate,
            "duplicate_rate": self.duplicate_rate,
            "corrupt_rate": self.corrupt_rate,
        }


def route_of(profile: DeviceProfile) -> Route:
    """The route an option's device is updated over: its profile's first."""
    return Route(profile.routes[0])


def _radio(value: str) -> str | None:
    problem = radio_problem(value)
    if problem is None and value.startswith("ezsp:"):
        return "must be an air that runs in virtual time (direct, zigpy, ncp), not a dongle"
    return problem


_TOP = {
    "campaign": config.table({}),
    "mix": config.table(),
    "options": config.table(),
    "image": config.table({}),
    "waves": config.table({}),
    "faults": config.table({}),
}
_CAMPAIGN = {
    "name": config.text(None),
    "description": config.text(""),
    "homes": config.integer(1, MAX_HOMES, 1000),
    "seed": config.integer(0, 2**63 - 1, 0),
    "radio": config.Key(str, _radio, "direct", convert=normal_radio),
    "duration": config.number(1, 30 * 86400, 2 * 86400.0),
    "retries": config.integer(0, 10, 0),
}
_IMAGE = {
    "size": config.integer(1, 16 << 20, 262144),
    "file_version": config.integer(0, 0xFFFFFFFE, None),
    "supplier": config.choice(("A", "B"), "A"),
}
_WAVES = {
    "homes_per_wave": config.integer(1, MAX_HOMES, MAX_HOMES),
    "spacing_s": config.number(0, 365 * 86400, 0.0),
}
_FAULTS = {
    "drop_rate": config.number(0, 0.9, 0.0),
    "duplicate_rate": config.number(0, 1, 0.0),
    "corrupt_rate": config.number(0, 0.9, 0.0),
}


def load_campaign(path: str | Path, *, profiles_dir: Path | None = None) -> FleetCampaign:
    """Read and check a campaign file."""
    path = Path(path)
    r = ConfigReader(config.display(path))
    top = r.table(config.read_toml(path, "campaign file"), "", _TOP)
    c = r.table(top["campaign"], "campaign", _CAMPAIGN)
    mix = _mix(r, top["mix"])
    options = _options(r, top["options"], mix, profiles_dir)
    image = r.table(top["image"], "image", _IMAGE)
    waves = r.table(top["waves"], "waves", _WAVES)
    faults = r.table(top["faults"], "faults", _FAULTS)
    return FleetCampaign(
        source=r.source,
        name=c["name"] or path.stem,
        homes=c["homes"],
        seed=c["seed"],
        mix=mix,
        options=options,
        image_size=image["size"],
        file_version=image["file_version"],
        supplier=image["supplier"],
        waves=Waves(waves["homes_per_wave"], waves["spacing_s"]),
        retries=c["retries"],
        duration=c["duration"],
        radio=c["radio"],
        description=c["description"],
        **faults,
    )


def _mix(r: ConfigReader, raw: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    shares = r.table(raw, "mix", {kind: config.number(0, 1, 0.0) for kind in KINDS})
    total = math.fsum(shares.values())
    if abs(total - 1) > SHARE_TOLERANCE:
        said = ", ".join(f"{k} {v:g}" for k, v in shares.items() if v)
        raise r.fail("mix", f"the shares must sum to 1, got {total:g} ({said or 'all 0'})")
    return tuple((kind, share) for kind, share in shares.items() if share > 0)


def _options(
    r: ConfigReader,
    raw: dict[str, Any],
    mix: tuple[tuple[str, float], ...],
    profiles_dir: Path | None,
) -> tuple[tuple[DeviceType, DeviceProfile], ...]:
    keys = {str(t).lower(): config.text(None) for t in DeviceType}
    named = r.table(raw, "options", keys)
    known = profile_names(profiles_dir)
    needed = {t for kind, _share in mix for t in KINDS[kind]}
    options = []
    for device_type in DeviceType:
        key = f"options.{str(device_type).lower()}"
        name = named[str(device_type).lower()]
        if name is None:
            if device_type in needed:
                users = [k for k, _s in mix if device_type in KINDS[k]]
                raise r.fail(key, f"missing: homes of the mix have one ({', '.join(users)})")
            continue
        if name not in known:
            raise r.fail(key, f"unknown profile {name!r} (profiles: {', '.join(known)})")
        try:
            profile = load_profile(name, profiles_dir)
        except ProfileError as exc:
            raise r.fail(key, f"profile {name!r} does not load: {exc}") from None
        if profile.device_type != device_type:
            raise r.fail(key, f"profile {name} is a {profile.device_type}, not a {device_type}")
        options.append((device_type, profile))
    return tuple(options)
