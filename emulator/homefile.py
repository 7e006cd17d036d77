"""Home files: `profiles/homes/*.toml` read and checked into frozen dataclasses.

`load_home(path)` reads a home file (TOML, documented in docs/homes.md), checks every key against
the declarations below (read and checked by `emulator.config`), resolves every device profile,
and raises `HomeFileError` naming the file and the key for anything wrong, e.g. `error:
homes/x.toml: key device[2].profile: unknown profile 'ihd-opt9' (profiles: cad, hcalcs, ...)`.
This module owns reading home files; it never runs anything and never picks an air's code (it
only names the air, checked by `radio.air.radio_problem`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from emulator import config, framesize
from emulator.config import ConfigReader, Key
from emulator.device.campaign import MODES, PARTIES
from emulator.errors import HomeFileError, PolicyError, ProfileError  # noqa: F401  (re-exported)
from emulator.files import not_regular
from emulator.ota.policy import ServerPolicy
from emulator.profiles import DeviceProfile, Provenance, Route, load_profile, profile_names
from emulator.radio.air import RADIO_FORMS, normal_radio, radio_problem
from emulator.wifi.plan import TRIGGERS, VARIANTS

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOMES_DIR = PROJECT_DIR / "profiles" / "homes"
DEFAULT_HOME = HOMES_DIR / "default.toml"


RADIO = Key(
    str,
    radio_problem,
    "zigpy",
    convert=normal_radio,
    domain=f"from {RADIO_FORMS}",
)
"""`[home] radio`: a word, or `ezsp:` and a serial device or `socket://host:port`."""
SERVERS = ("hanemu", "zigpy")
OUTCOMES = ("activated", "downloaded", "rejected", "no-image", "failed")
ACTIVATE = MODES
"""How a campaign asks for activation: as `hanemu ota simulate --activate`."""
LEADS = ("A", "B")
"""Who may be a device's lead supplier: the two suppliers of the campaign parties."""
CONSENT_ANSWERS = ("accept", "decline", "none")
"""What the consumer answers a device that asks for consent ("none": never answers)."""
SUPPLIERS = tuple(PARTIES)
"""Who signs the image and the CS06 commands (A, B, rogue, or forged: claims A, signs as rogue)."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    implementation: str = "hanemu"
    max_block_size: int = framesize.DEFAULT_MAX_BLOCK_DATA
    """Largest block served; a home file's default is the largest block one frame of any of its
    devices holds (`fitting_block`)."""
    minimum_block_period: int = 0
    """Milliseconds between Image Block Requests the server asks for (0: no limit)."""
    page_requests: bool = True
    upgrade_time: tuple[str, int] = ("now", 0)
    knobs: tuple[tuple[str, object], ...] = ()
    """Every other `ServerPolicy` field the `[server]` table sets, by its field name."""

    def policy(self) -> ServerPolicy:
        """The hub's OTA server policy (for `implementation = "hanemu"`)."""
        when, delay = self.upgrade_time
        return ServerPolicy(
            block_size_cap=self.max_block_size,
            min_block_period=self.minimum_block_period or None,
            support_page_requests=self.page_requests,
            upgrade_time=when,
            upgrade_delay_s=delay,
            **dict(self.knobs),
        )


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    name: str
    profile: DeviceProfile
    firmware_version: int
    route: Route
    expect: str | None
    provenance: Provenance | None = None
    """Who provided it, when not as its profile says (a consumer-bought IHD)."""
    lead_supplier: str | None = None
    consent: str = "accept"
    consent_after_s: float = 60.0
    expect_findings: tuple[str, ...] | None = None
    hops: int = 1


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
    wifi: str = "genuine"
    """What the update server serves a Wi-Fi device (`emulator.wifi.plan.VARIANTS`)."""
    trigger: str = "supplier"
    """Who triggers a reactive Wi-Fi device (`emulator.wifi.plan.TRIGGERS`)."""


@dataclass(frozen=True, slots=True)
class Faults:
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    corrupt_rate: float = 0.0
    power_loss_at: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class RogueConfig:
    """A rogue HAN node (`[[rogue]]`): it sends `target` its own Display Message at `at`."""

    name: str
    target: str
    at: float
    text: str | None = None


@dataclass(frozen=True, slots=True)
class HomeConfig:
    source: str
    name: str
    seed: int
    radio: str
    """An air's name (`radio.air.AIRS`), or `ezsp:` and the dongle's path."""
    duration: float
    server: ServerConfig
    devices: tuple[DeviceConfig, ...]
    campaigns: tuple[CampaignConfig, ...] = ()
    faults: Faults = field(default_factory=Faults)
    rogues: tuple[RogueConfig, ...] = ()
    option: str | None = None
    """The options paper's option this home shows (e.g. "IHD 2"), for `hanemu options
    assess`; None for a home that shows none."""
    description: str = ""

    def targets(self, campaign: CampaignConfig) -> list[DeviceConfig]:
        """Devices a campaign addresses: by device name, by profile name, or `*`."""
        return [d for d in self.devices if campaign.device in ("*", d.name, d.profile.name)]


# --- declarations ------------------------------------------------------------------------------

_TOP: dict[str, Key] = {
    "home": config.table({}),
    "server": config.table({}),
    "device": config.array(noun="[[device]] tables", default=()),
    "campaign": config.array(noun="[[campaign]] tables", default=()),
    "faults": config.table({}),
    "rogue": config.array(noun="[[rogue]] tables", default=()),
}


def _upgrade_time() -> Key:
    def check(value: str | int) -> str | None:
        if isinstance(value, int):
            return None if 0 <= value <= 0xFFFFFFFE else "must be in 0..4294967294 seconds"
        return None if value in ("now", "wait") else "must be 'now', 'wait' or seconds"

    return Key(
        (str, int),
        check,
        ("now", 0),
        convert=lambda v: ("delay", v) if isinstance(v, int) else (v, 0),
        expected="'now', 'wait' or seconds",
    )


SERVER_KEYS_OF_FIELDS = {
    "block_size_cap": "max_block_size",
    "min_block_period": "minimum_block_period",
    "support_page_requests": "page_requests",
    "upgrade_time": "upgrade_time",
    "upgrade_delay_s": "upgrade_time",
}
"""`ServerPolicy` fields a home sets under a key of its own -> that key. Every other field is a
`[server]` key of its own name (`SERVER_KNOBS`), so a new server knob needs no change here."""
SERVER_KNOBS = config.knobs(ServerPolicy, skip=SERVER_KEYS_OF_FIELDS)
_SERVER: dict[str, Key] = {
    "implementation": config.choice(SERVERS, "hanemu"),
    "max_block_size": config.integer(1, 255, None),  # None: what fits the home's devices
    "minimum_block_period": config.integer(0, 0xFFFE, 0),
    "page_requests": config.flag(True),
    "upgrade_time": _upgrade_time(),
    **SERVER_KNOBS,
}


def _device_name(name: str) -> str | None:
    if not name:
        return "must not be empty"
    if name == "*":
        return "must not be '*' (in a campaign, '*' means every device)"
    return None


_DEVICE: dict[str, Key] = {
    "name": Key(str, _device_name),
    "profile": config.text(),
    "firmware_version": config.integer(0, 0xFFFFFFFE, None),  # None: the profile's
    "route": config.choice(Route, None),  # None: the profile's first
    "expect": config.choice(OUTCOMES, None),
    "provenance": config.choice(Provenance, None),  # None: the profile's
    "lead_supplier": config.choice(LEADS, None),
    "consent": config.choice(CONSENT_ANSWERS, "accept"),
    "consent_after_s": config.number(0, 30 * 86400, 60.0),
    "expect_findings": config.array(config.text(), noun="finding kinds", default=None),
    "hops": config.integer(1, 15, 1),
}
_BUILD: dict[str, Key] = {
    "file_version": config.integer(0, 0xFFFFFFFE),
    "size": config.integer(1, 16 << 20),
}


def _fractions(value: list | float) -> str | None:
    cuts = value if isinstance(value, list) else [value]
    good = all(isinstance(c, int | float) and not isinstance(c, bool) and 0 <= c <= 1 for c in cuts)
    return None if good else "must be fractions in 0..1"


_FAULTS: dict[str, Key] = {
    "drop_rate": config.number(0, 0.9, 0.0),
    "duplicate_rate": config.number(0, 1, 0.0),
    "corrupt_rate": config.number(0, 0.9, 0.0),
    "power_loss_at": Key(
        (list, int, float),
        _fractions,
        (),
        convert=lambda v: tuple(float(c) for c in (v if isinstance(v, list) else [v])),
        expected="a fraction 0..1 or an array of them",
    ),
}


# --- reading ---------------------------------------------------------------------------------


def load_home(path: str | Path, *, profiles_dir: Path | None = None) -> HomeConfig:
    """Read and check a home file."""
    path = Path(path)
    r = ConfigReader(config.display(path))
    top = r.table(config.read_toml(path, "home file"), "", _TOP)
    home = r.table(
        top["home"],
        "home",
        {
            "name": config.text(path.stem),
            "seed": config.integer(0, 2**63 - 1, 0),
            "radio": RADIO,
            "duration": config.number(1, 30 * 86400, 2.0 * 86400),
            "option": config.text(None),
            "description": config.text(""),
        },
    )
    srv = r.table(top["server"], "server", _SERVER)
    devices = _devices(r, top["device"], profiles_dir)
    srv["max_block_size"] = _block_size(r, srv["max_block_size"], devices)
    server = _server(r, srv)
    campaigns = _campaigns(r, top["campaign"], devices, path, home["duration"])
    faults = r.table(top["faults"], "faults", _FAULTS)
    rogues = _rogues(r, top["rogue"], devices, home["duration"])
    return HomeConfig(
        source=r.source,
        name=home["name"],
        seed=home["seed"],
        radio=home["radio"],
        duration=home["duration"],
        server=server,
        devices=devices,
        campaigns=campaigns,
        faults=Faults(**faults),
        rogues=rogues,
        option=home["option"],
        description=home["description"],
    )


def _server(r: ConfigReader, srv: dict[str, object]) -> ServerConfig:
    """The `[server]` table, its policy checked now (a value `ServerPolicy` refuses names its
    key)."""
    knobs = tuple((k, v) for k in SERVER_KNOBS if (v := srv.pop(k)) is not None)
    server = ServerConfig(**srv, knobs=knobs)  # type: ignore[arg-type]
    try:
        server.policy()
    except PolicyError as exc:
        message = str(exc)
        fields = ServerPolicy.__dataclass_fields__
        field = next((f for f in fields if f"ServerPolicy.{f} " in message), None)
        key = None if field is None else SERVER_KEYS_OF_FIELDS.get(field, field)
        raise r.fail(f"server.{key}" if key else "server", message) from None
    return server


def _devices(
    r: ConfigReader, raw_devices: tuple, profiles_dir: Path | None
) -> tuple[DeviceConfig, ...]:
    if not raw_devices:
        raise r.fail("device", "a home needs at least one [[device]]")
    devices: list[DeviceConfig] = []
    known = profile_names(profiles_dir)
    for i, raw in enumerate(raw_devices):
        key = f"device[{i}]"
        d = r.table(raw, key, _DEVICE)
        if any(x.name == d["name"] for x in devices):
            raise r.fail(f"{key}.name", f"device name {d['name']!r} is used twice")
        pname = d["profile"]
        if pname not in known:
            raise r.fail(
                f"{key}.profile", f"unknown profile {pname!r} (profiles: {', '.join(known)})"
            )
        try:
            profile = load_profile(pname, profiles_dir)
        except ProfileError as exc:
            raise r.fail(f"{key}.profile", f"profile {pname!r} does not load: {exc}") from None
        version = d["firmware_version"]
        route = d["route"] or profile.routes[0]
        if route not in profile.routes and route is not Route.DCC:  # the DCC says why not
            raise r.fail(
                f"{key}.route",
                f"profile {pname} allows routes {', '.join(profile.routes)}, not {route.value!r}",
            )
        lead = d["lead_supplier"]
        if lead is not None and profile.supplier_slots < 2:
            raise r.fail(
                f"{key}.lead_supplier",
                f"a lead supplier governs a device two suppliers share; profile {pname} holds "
                f"{profile.supplier_slots} supplier certificate(s)",
            )
        devices.append(
            DeviceConfig(
                d["name"],
                profile,
                profile.zigbee.firmware_version if version is None else version,
                route,
                d["expect"],
                provenance=d["provenance"],
                lead_supplier=lead,
                consent=d["consent"],
                consent_after_s=d["consent_after_s"],
                expect_findings=d["expect_findings"],
                hops=d["hops"],
            )
        )
    return tuple(devices)


def fitting_block(devices: tuple[DeviceConfig, ...]) -> int:
    """The largest block one unfragmented frame carries to some device of the home (56 when
    every device is an APS-encrypted Smart Energy device): the server's default cap. A client
    asks for no more than its own frames hold, so a cap this large never makes a frame too big."""
    return max(framesize.max_block_data(d.profile.zigbee.security) for d in devices)


def _block_size(r: ConfigReader, stated: int | None, devices: tuple[DeviceConfig, ...]) -> int:
    fits = fitting_block(devices)
    if stated is None:
        return fits
    if stated > fits:
        securities = sorted({str(d.profile.zigbee.security) for d in devices})
        raise r.fail(
            "server.max_block_size",
            f"{stated} octets of block data cannot fit one unfragmented "
            f"{framesize.PHY_MAX_PSDU}-octet 802.15.4 frame to any device of this home "
            f"(at most {fits}; {', '.join(securities)})",
        )
    return stated


def _campaigns(
    r: ConfigReader, raw_campaigns: tuple, devices: tuple[DeviceConfig, ...], path: Path, end: float
) -> tuple[CampaignConfig, ...]:
    spec = {
        "device": config.text("*"),
        "image": config.text(None),
        "build": config.table(None),
        "activate": config.choice(ACTIVATE, "auto"),
        "at": config.number(0, end, 0.0),
        "supplier": config.choice(SUPPLIERS, "A"),
        "wifi": config.choice(tuple(VARIANTS), "genuine"),
        "trigger": config.choice(TRIGGERS, "supplier"),
    }
    campaigns: list[CampaignConfig] = []
    for i, raw in enumerate(raw_campaigns):
        key = f"campaign[{i}]"
        c = r.table(raw, key, spec)
        target = c["device"]
        if target != "*" and not any(target in (d.name, d.profile.name) for d in devices):
            raise r.fail(f"{key}.device", f"no device or profile named {target!r} in the home")
        if (c["image"] is None) == (c["build"] is None):
            raise r.fail(key, "needs exactly one of image (a path) or build (a table)")
        image = build = None
        if c["image"] is not None:
            image = _image(r, f"{key}.image", path.parent / c["image"])
        else:
            build = Build(**r.table(c["build"], f"{key}.build", _BUILD))
        campaigns.append(
            CampaignConfig(
                device=target,
                image=image,
                build=build,
                activate=c["activate"],
                at=c["at"],
                supplier=c["supplier"],
                wifi=c["wifi"],
                trigger=c["trigger"],
            )
        )
    return tuple(campaigns)


def _rogues(
    r: ConfigReader, raw_rogues: tuple, devices: tuple[DeviceConfig, ...], end: float
) -> tuple[RogueConfig, ...]:
    spec = {
        "name": config.text("rogue"),
        "target": config.text(),
        "at": config.number(0, end),
        "text": Key(str, _display_text, None),
    }
    rogues: list[RogueConfig] = []
    for i, raw in enumerate(raw_rogues):
        key = f"rogue[{i}]"
        g = r.table(raw, key, spec)
        if not any(d.name == g["target"] for d in devices):
            names = ", ".join(d.name for d in devices)
            raise r.fail(f"{key}.target", f"no device named {g['target']!r} (devices: {names})")
        rogues.append(RogueConfig(g["name"], g["target"], g["at"], g["text"]))
    return tuple(rogues)


def _display_text(text: str) -> str | None:
    return None if len(text.encode()) <= 0xFE else "must be at most 254 octets of UTF-8"


def _image(r: ConfigReader, key: str, path: Path) -> Path:
    """The image file `path` names, made absolute; it must be a regular file."""
    try:
        path = path.resolve()
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # missing, or a name the system refuses: too long, a NUL byte
        raise r.fail(key, f"no such file {config.display(path)!r}") from None
    complaint = not_regular(mode, "OTA file")
    if complaint is not None:
        raise r.fail(key, f"{config.display(path)!r}: {complaint}")
    return path
