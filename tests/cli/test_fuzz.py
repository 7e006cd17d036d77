"""`hanemu fuzz` through the CLI group: short profiles per target, determinism, bad usage, and a
failure reported with the command that replays it."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from hypothesis import strategies as st

from emulator.cli import cli, fuzz

LINE = re.compile(r"^(\w[\w-]*): (\d+) examples in [\d.]+ s, (ok|FAILED)$", re.M)


def run(*args: str):
    return CliRunner().invoke(cli, ["fuzz", *args])


def counts(output: str) -> dict[str, tuple[int, str]]:
    return {m[1]: (int(m[2]), m[3]) for m in LINE.finditer(output)}


@pytest.mark.parametrize("target", ["client", "server", "image", "gbcs"])
def test_each_target_runs_a_short_profile_and_passes(target):
    result = run("--target", target, "--examples", "40", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert counts(result.output) == {target: (40, "ok")}


def test_same_seed_same_counts_and_budget_without_examples():
    first = run("--target", "image", "--target", "server", "--examples", "30", "--seed", "9")
    again = run("--target", "image", "--target", "server", "--examples", "30", "--seed", "9")
    assert first.exit_code == again.exit_code == 0
    assert (
        counts(first.output)
        == counts(again.output)
        == {
            "image": (30, "ok"),
            "server": (30, "ok"),
        }
    )
    timed = run("--target", "image", "--seconds", "0.2")
    assert timed.exit_code == 0, timed.output
    assert counts(timed.output)["image"][0] >= 1


@pytest.mark.parametrize(
    "args",
    [
        ["--target", "nothing"],
        ["--examples", "0"],
        ["--seconds", "-1"],
        ["--seed", "x"],
        ["--bogus"],
    ],
)
def test_bad_usage_is_one_line_exit_2(args):
    result = run(*args)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("error: ")


def _fails_on_large(value: int) -> None:
    if value > 1000:
        raise ValueError(f"too large: {value}")


def _breaks_invariant(value: int) -> None:
    assert value < 1000, f"invariant broken at {value}"


@pytest.fixture
def failing_targets(monkeypatch):
    monkeypatch.setitem(
        fuzz.TARGETS,
        "broken",
        fuzz.Target("fails on large integers", lambda: st.integers(0, 10**6), _fails_on_large),
    )
    monkeypatch.setitem(
        fuzz.TARGETS,
        "invariant",
        fuzz.Target("asserts", lambda: st.integers(0, 10**6), _breaks_invariant),
    )


@pytest.mark.parametrize("target,error", [("broken", "ValueError"), ("invariant", "Assertion")])
def test_a_failure_exits_1_with_its_replay_command_which_replays(failing_targets, target, error):
    result = run("--target", target, "--target", "image", "--examples", "250", "--seed", "5")
    assert result.exit_code == 1, result.output
    assert counts(result.output)[target][1] == "FAILED"
    assert counts(result.output)["image"] == (250, "ok")  # the other targets still run
    assert error in result.output
    replay = re.search(r"replay: hanemu (fuzz .*)$", result.output, re.M)
    assert replay is not None, result.output
    again = run(*replay[1].split()[1:])
    assert again.exit_code == 1
    assert counts(again.output)[target][1] == "FAILED"


def test_zigpy_server_reports_what_zigpy_did_the_same_for_the_same_seed():
    first = run("--target", "zigpy-server", "--examples", "12", "--seed", "4")
    again = run("--target", "zigpy-server", "--examples", "12", "--seed", "4")
    assert first.exit_code == again.exit_code == 0, first.output
    assert counts(first.output) == {"zigpy-server": (12, "ok")}
    observed = [line for line in first.output.splitlines() if "  zigpy: update_firmware" in line]
    assert sum(int(line.split()[0]) for line in observed) == 12  # one answer per example
    assert "replay: hanemu fuzz --target zigpy-server --seed 4 --examples 12" in first.output
    strip = re.compile(r" in [\d.]+ s,")
    assert strip.sub("", first.output) == strip.sub("", again.output)
