"""hanemu's pytest plugin: emulated devices, homes, OTA files and an OTA server as fixtures.

Installing hanemu registers this module through the `pytest11` entry point, so any project whose
environment holds hanemu gets these fixtures with no conftest (docs/testing.md shows each one):

- `hanemu_seed`: the run's seed, `--hanemu-seed N` (default 0); every other fixture's randomness
  derives from it, the pytest header prints it, and a failed test's report says how to replay;
- `virtual_clock`: a fresh `emulator.clock.VirtualClock` at time 0;
- `ota_image_factory`: an `ImageFactory`, building standard Zigbee OTA files and GB OTA Upgrade
  Images that fit a device profile;
- `ota_server`: hanemu's sans-IO `OtaServer` with an empty `ImageStore`;
- `emulated_device`: a factory of `DeviceRun`, one emulated device of a profile against the
  Comms Hub's OTA server, on the air of your choice (`direct` or `zigpy`);
- `emulated_home`: a factory of `HomeRun`, a home from a home file or a dict.

Runs are the one scenario engine's (`emulator.scenario`, `emulator.home`): a fixture only builds
a `Scenario` and plays it, in virtual time. Only this module imports pytest, and it imports the
emulator lazily, inside the fixtures, so that loading the plugin costs a pytest run nothing.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from emulator.clock import VirtualClock
    from emulator.device.emulated import EmulatedDevice
    from emulator.device.report import DeviceReport
    from emulator.homefile import HomeConfig
    from emulator.ota.link import LinkPolicy
    from emulator.ota.policy import ServerPolicy
    from emulator.ota.server import OtaServer
    from emulator.profiles import DeviceProfile
    from emulator.scenario import Scenario, ScenarioReport, ScenarioRun

DEFAULT_SEED = 0
"""`--hanemu-seed` when none is given: runs are deterministic unless asked otherwise."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hanemu", "hanemu emulated HAN devices")
    group.addoption(
        "--hanemu-seed",
        type=int,
        default=DEFAULT_SEED,
        metavar="N",
        help="seed every hanemu fixture's randomness derives from (default: %(default)s); "
        "a failed test prints the seed to replay it",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"hanemu: --hanemu-seed {config.getoption('hanemu_seed')}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and _uses_hanemu(item):
        seed = item.config.getoption("hanemu_seed")
        report.sections.append(("hanemu", f"replay with --hanemu-seed {seed}"))
    return report


def _uses_hanemu(item: pytest.Item) -> bool:
    return "hanemu_seed" in getattr(item, "fixturenames", ())


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def hanemu_seed(request: pytest.FixtureRequest) -> int:
    """The seed of this run (`--hanemu-seed`, default 0). Every hanemu fixture draws from it."""
    return int(request.config.getoption("hanemu_seed"))


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A fresh discrete-event clock at time 0: `call_later`, `advance`, `run_until_idle`."""
    from emulator.clock import VirtualClock

    return VirtualClock()


@pytest.fixture
def ota_image_factory(hanemu_seed: int) -> ImageFactory:
    """Builds OTA files; payloads and Manufacturer Images are drawn from the run's seed."""
    return ImageFactory(hanemu_seed)


@pytest.fixture
def ota_server(hanemu_seed: int) -> OtaServer:
    """hanemu's OTA server (sans-IO: `handle(frame, src, now)` returns `Send` actions) with an
    empty image store (`ota_server.store.add(file)`) and a transaction number drawn from the
    seed. Pass it to `emulated_device(..., server=ota_server)` to have a device served by it."""
    from emulator.ota.server import ImageStore, OtaServer

    return OtaServer(ImageStore(), tsn=_rng(hanemu_seed, "ota_server").randrange(256))


@pytest.fixture
def emulated_device(hanemu_seed: int) -> Callable[..., DeviceRun]:
    """A factory: `emulated_device(profile, *, air="direct", ...)` returns a `DeviceRun` (see
    there for every argument); `.run()` plays it and returns the device's report."""

    def make(profile: str | DeviceProfile | None, **options: Any) -> DeviceRun:
        options.setdefault("seed", hanemu_seed)
        return DeviceRun(profile, **options)

    return make


@pytest.fixture
def emulated_home(hanemu_seed: int, tmp_path: Path) -> Callable[..., HomeRun]:
    """A factory: `emulated_home(path_or_dict, *, radio=None, seed=None)` returns a `HomeRun`;
    `.run()` plays it and returns the home's report. A dict is a home file's tables (docs/homes.md)
    and is read by the same reader as a file, so it is checked the same way; name any image in it
    by an absolute path."""
    count = iter(range(1_000_000))

    def make(
        home: str | Path | Mapping[str, Any], *, radio: str | None = None, seed: int | None = None
    ) -> HomeRun:
        if isinstance(home, Mapping):
            path = tmp_path / f"hanemu-home-{next(count)}.toml"
            path.write_text(home_toml(home), encoding="utf-8")
            home = path
        return HomeRun(Path(home), radio=radio, seed=hanemu_seed if seed is None else seed)

    return make


# -- what the fixtures hand out -------------------------------------------------------------------


class ImageFactory:
    """OTA files for tests. Each call draws a fresh payload from the factory's seeded RNG, so a
    test's images are the same on every run with the same `--hanemu-seed`."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng = _rng(seed, "ota_image_factory")

    def __call__(
        self,
        payload: bytes | None = None,
        *,
        manufacturer_id: int = 0x1234,
        image_type: int = 0x0001,
        file_version: int = 0x00000002,
        size: int = 1024,
        **options: Any,
    ) -> bytes:
        """A standard Zigbee OTA file (`emulator.ota.image.build_image`): `payload`, or `size`
        random bytes, as its upgrade image; `options` are build_image's (`tags`, `integrity`,
        `min_hw`, `max_hw`, `destination`, `header_string`, ...)."""
        from emulator.ota.image import build_image

        if payload is None:
            payload = self._rng.randbytes(size)
        return build_image(
            payload,
            manufacturer_id=manufacturer_id,
            image_type=image_type,
            file_version=file_version,
            **options,
        )

    def gb(
        self,
        profile: str | DeviceProfile,
        *,
        file_version: int | None = None,
        size: int = 4096,
        supplier: str = "A",
    ) -> bytes:
        """A GB OTA Upgrade Image that fits `profile` (a name under profiles/ or a loaded
        profile) and is newer than what it runs, signed by `supplier` of the test PKI (A, B,
        rogue, forged), as `emulator.device.campaign.profile_image` builds it."""
        from emulator.device.campaign import profile_image

        return profile_image(
            _profile(profile),
            file_version=file_version,
            size=size,
            seed=self._rng.getrandbits(32),
            supplier=supplier,
        )


class DeviceRun:
    """One emulated device against the Comms Hub's OTA server, as `hanemu ota simulate` runs it
    (`emulator.scenario.one_device`), ready to `run()`.

    `profile`: a profile name (or a loaded profile): a GB device on its DCC route, sent `image`
    or, by default, a GB image built to fit it, activated by the head-end as `activate` says
    (auto, critical, non-critical, ch-managed, none; `emulator.device.campaign.MODES`). None: a
    plain Zigbee OTA client of `image`'s manufacturer and type, a version below it.
    `air`: "direct" (no zigpy, the fast path) or "zigpy" (zigpy's coordinator, real ZCL frames).
    `server`: an `OtaServer` (the `ota_server` fixture) to serve the device instead of a fresh
    one; its policy replaces `server_policy`. `faults` (`LinkPolicy`), `power_loss` (fractions of
    the download at which power is cut) and `seed` (default: `--hanemu-seed`) as the scenario's.
    After `run()`: `report`, `scenario_report`, `device` (the `EmulatedDevice`), `server`.
    """

    def __init__(
        self,
        profile: str | DeviceProfile | None,
        *,
        air: str = "direct",
        image: bytes | None = None,
        image_size: int = 4096,
        activate: str = "auto",
        server: OtaServer | None = None,
        server_policy: ServerPolicy | None = None,
        faults: LinkPolicy | None = None,
        power_loss: Sequence[float] = (),
        seed: int = DEFAULT_SEED,
    ) -> None:
        from emulator.device.campaign import ActivationPlan
        from emulator.scenario import one_device

        self.scenario: Scenario = one_device(
            profile=None if profile is None else _profile(profile),
            image=image,
            plan=ActivationPlan(mode=activate if profile is not None else "none"),
            image_size=image_size,
            server=server_policy,
            faults=faults,
            power_loss=tuple(power_loss),
            seed=seed,
            radio=air,
        )
        self._server = server
        self.engine: ScenarioRun | None = None
        self.scenario_report: ScenarioReport | None = None

    def run(self) -> DeviceReport:
        """Play the scenario in virtual time; the device's report (`outcome`, `final_file_version`,
        `blocks`, `alerts`, `gb`, ...)."""
        self.scenario_report, self.engine = _play(self.scenario, self._server)
        (report,) = self.scenario_report.devices
        return report

    @property
    def report(self) -> DeviceReport:
        return self._played().devices[0]

    @property
    def device(self) -> EmulatedDevice:
        self._played()
        assert self.engine is not None
        return self.engine.devices[0][1]

    @property
    def server(self) -> OtaServer:
        """The OTA server that served the device (the one given, or the hub's own)."""
        self._played()
        assert self.engine is not None
        return self.engine.hub.server

    def _played(self) -> ScenarioReport:
        if self.scenario_report is None:
            raise RuntimeError("call run() first")
        return self.scenario_report


class HomeRun:
    """A home (`emulator.home`) ready to `run()`: `config` is the checked home file, `scenario`
    the scenario it describes on `radio` (default: the file's) with `seed`."""

    def __init__(self, path: Path, *, radio: str | None, seed: int) -> None:
        from emulator.home import load_home, scenario_for

        self.config: HomeConfig = load_home(path)
        self.scenario: Scenario = scenario_for(self.config, seed=seed, radio=radio)
        self.report: ScenarioReport | None = None

    def run(self) -> ScenarioReport:
        """Play the home in virtual time; its report (`ok`, `devices`, `virtual_seconds`)."""
        self.report, _engine = _play(self.scenario, None)
        return self.report


def _play(scenario: Scenario, server: OtaServer | None) -> tuple[ScenarioReport, ScenarioRun]:
    """Play a scenario with the one engine in virtual time, keeping the engine to inspect;
    `server`, when given, is the hub's OTA server."""
    from emulator.scenario import ScenarioRun

    engine = ScenarioRun(scenario, None, None, server=server)
    return engine.run(), engine


def _profile(profile: str | DeviceProfile) -> DeviceProfile:
    from emulator.profiles import load_profile

    return load_profile(profile) if isinstance(profile, str) else profile


def _rng(seed: int, name: str) -> random.Random:
    """The RNG of one fixture: its own stream, derived from the run's seed and its name."""
    return random.Random(f"hanemu:{seed}:{name}")


# -- a home as a dict -----------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def home_toml(home: Mapping[str, Any]) -> str:
    """A home file's text from its tables: `{"home": {...}, "device": [{...}], ...}`. Tables
    become `[name]`, lists of tables `[[name]]`, anything deeper an inline table."""
    lines: list[str] = []
    tables: list[str] = []
    for key, value in home.items():
        if isinstance(value, Mapping):
            tables += ["", f"[{_key(key)}]", *_pairs(value)]
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for each in value:
                tables += ["", f"[[{_key(key)}]]", *_pairs(each)]
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    return "\n".join([*lines, *tables]) + "\n"


def _pairs(table: Mapping[str, Any]) -> Iterator[str]:
    for key, value in table.items():
        yield f"{_key(key)} = {_value(value)}"


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"a home file has no {type(value).__name__} values: {value!r}")
