"""The pytest plugin from outside: a fresh project that depends only on hanemu gets its fixtures.

Acceptance 1 of issue 13. Each test makes a new project in a temporary directory (its own
pyproject.toml naming hanemu as its one dependency, no conftest) and runs pytest on it in a
subprocess (`pytester.runpytest_subprocess`), so the plugin is found the way a user's suite
finds it: through the `pytest11` entry point of the installed hanemu, never through this repo's
conftest or sys.path. The subprocess runs with this environment's interpreter, where hanemu is
installed (editable) alongside its dependencies; building a separate venv that installs only
hanemu would prove the same entry point at the cost of a full dependency install per run, so it
is not done here.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from emulator.testing.pytest_plugin import ImageFactory, home_toml

pytest_plugins = ["pytester"]

EVERY_FIXTURE = """
from emulator.clock import VirtualClock
from emulator.home import DEFAULT_HOME
from emulator.ota import frames
from emulator.ota.client import OutcomeKind
from emulator.ota.image import parse_header
from emulator.ota.server import OtaServer


def test_virtual_clock(virtual_clock):
    assert isinstance(virtual_clock, VirtualClock) and virtual_clock.now == 0.0
    seen = []
    virtual_clock.call_later(86400.0, seen.append, "a day")
    virtual_clock.run_until_idle()
    assert seen == ["a day"] and virtual_clock.now == 86400.0


def test_ota_image_factory(ota_image_factory):
    plain = ota_image_factory(manufacturer_id=0x1234, image_type=5, file_version=9, size=100)
    header = parse_header(plain)
    assert (header.manufacturer_id, header.image_type, header.file_version) == (0x1234, 5, 9)
    assert ota_image_factory(size=100) != ota_image_factory(size=100)  # fresh payload each call
    assert parse_header(ota_image_factory.gb("ppmid", size=512)).file_version > 0


def test_ota_server_answers_a_query(ota_server, ota_image_factory):
    assert isinstance(ota_server, OtaServer) and len(ota_server.store) == 0
    ota_server.store.add(ota_image_factory(manufacturer_id=0x1234, image_type=1, file_version=2))
    query = frames.encode(
        "query_next_image", tsn=9, field_control=0, manufacturer_code=0x1234, image_type=1,
        current_file_version=1,
    )
    (send,) = ota_server.handle(query, src=0x4321, now=0.0)
    answer = frames.decode(send.data)
    assert answer.name == "query_next_image_response" and answer.command.file_version == 2


def test_a_device_is_served_by_the_ota_server(emulated_device, ota_server, ota_image_factory):
    image = ota_image_factory.gb("ihd-opt1", size=4096)
    run = emulated_device("ihd-opt1", air="direct", image=image, server=ota_server)
    report = run.run()
    assert report.outcome is OutcomeKind.ACTIVATED
    assert run.server is ota_server
    assert ota_server.blocks_served == report.blocks > 0
    assert [(end.status, end.file_version) for end in ota_server.upgrade_ends] == [
        (0, parse_header(image).file_version)
    ]
    assert run.device.flash.running == image == report.running_image


def test_a_device_on_the_zigpy_air(emulated_device):
    report = emulated_device("hcalcs-opt1", air="zigpy", image_size=1024).run()
    assert report.outcome is OutcomeKind.ACTIVATED and report.final_file_version > (
        report.start_file_version
    )


def test_emulated_home_from_a_file_and_a_dict(emulated_home):
    report = emulated_home(DEFAULT_HOME, radio="direct").run()
    assert report.ok and len(report.devices) == 4
    home = emulated_home({
        "home": {"radio": "direct"},
        "device": [{"name": "meter display", "profile": "ihd", "expect": "activated"}],
        "campaign": [{"build": {"file_version": 0x01020304, "size": 2048}}],
    })
    report = home.run()
    assert report.ok
    assert [(d.name, d.final_file_version) for d in report.devices] == [
        ("meter display", 0x01020304)
    ]
"""

SEEDED = """
from emulator.testing.pytest_plugin import ImageFactory


def test_the_seed_reaches_every_fixture(
    hanemu_seed, ota_image_factory, emulated_device, emulated_home
):
    assert hanemu_seed == 7
    assert ota_image_factory(size=64) == ImageFactory(7)(size=64)
    assert emulated_device("ihd-opt1").scenario.seed == 7
    home = {
        "device": [{"name": "ihd", "profile": "ihd"}],
        "campaign": [{"build": {"file_version": 9, "size": 1024}}],
    }
    assert emulated_home(home).scenario.seed == 7
    assert emulated_home(home, seed=3).scenario.seed == 3
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A fresh project: a pyproject.toml depending on hanemu alone, and no conftest."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("PYTEST_PLUGINS", raising=False)
    pytester.makepyprojecttoml(
        """
        [project]
        name = "uses-hanemu"
        version = "0"
        dependencies = ["hanemu"]

        [tool.pytest.ini_options]
        asyncio_default_fixture_loop_scope = "function"
        """
    )
    return pytester


def test_a_fresh_project_uses_every_fixture(project: pytest.Pytester) -> None:
    project.makepyfile(test_every_fixture=EVERY_FIXTURE)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["hanemu: --hanemu-seed 0", "plugins:*hanemu-*"])
    assert not list(project.path.glob("conftest.py"))


def test_hanemu_seed_reaches_the_fixtures_and_the_header(project: pytest.Pytester) -> None:
    project.makepyfile(test_seeded=SEEDED)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--hanemu-seed", "7")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["hanemu: --hanemu-seed 7"])


def test_a_failed_test_names_the_seed_to_replay_it(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_fails="""
        def test_uses_hanemu(emulated_device):
            assert emulated_device("ihd-opt1").run().blocks < 0

        def test_does_not(tmp_path):
            assert False
        """
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--hanemu-seed", "3")
    result.assert_outcomes(failed=2)
    assert result.stdout.str().count("replay with --hanemu-seed 3") == 1


def test_hanemu_imports_no_pytest() -> None:
    """Only the plugin module imports pytest: the library, CLI and strategies never do."""
    code = (
        "import sys, emulator.cli, emulator.home, emulator.scenario, emulator.testing; "
        "assert 'pytest' not in sys.modules, 'pytest imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_home_dict_is_written_as_the_toml_it_reads_back() -> None:
    home = {
        "home": {"name": 'a "quoted" name\\with\ttabs', "seed": 3, "duration": 1.5e4},
        "server": {"page_requests": False, "upgrade_time": "now"},
        "device": [{"name": "ihd", "profile": "ihd"}, {"name": "cad", "route": "wifi"}],
        "campaign": [{"device": "*", "build": {"file_version": 0x123, "size": 4096}}],
        "faults": {"power_loss_at": [0.25, 0.5], "odd key": []},
    }
    assert tomllib.loads(home_toml(home)) == home


def test_the_image_factory_replays_by_seed() -> None:
    assert ImageFactory(1)(size=32) == ImageFactory(1)(size=32) != ImageFactory(2)(size=32)
    assert ImageFactory(1).gb("ihd", size=256) == ImageFactory(1).gb("ihd", size=256)
