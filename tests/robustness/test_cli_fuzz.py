"""The whole CLI under hypothesis: every command, its options and its input files, valid,
damaged and hostile. Whatever comes in:

* the exit status is 0, 1 or 2 (ok, a check or expectation failed, bad usage or input);
* an exit of 2 prints exactly one line on stderr, and nothing ever prints a traceback;
* every run ends within a bound;
* no output file is left torn: it is absent or whole;
* `gbcs verify` passes (exit 0) only an undamaged DCC test message.

500 examples in CI, 10,000 with HYPOTHESIS_PROFILE=full.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.cli import cli
from emulator.device.campaign import profile_image
from emulator.ota.image import build_image, parse_image
from emulator.profiles import load_profile, profile_names

PROJECT = Path(__file__).resolve().parents[2]
PKI = PROJECT / "images" / "pki"
FULL = os.environ.get("HYPOTHESIS_PROFILE") == "full"
EXAMPLES = 10_000 if FULL else 500
TIME_BOUND_S = 60.0

PROFILES = profile_names()
AIRS_BAD = ["zigpy", "virtual", "fm"]
"""The zigpy air is slow enough to keep for hostile examples only."""
GB_IMAGE = profile_image(load_profile("ihd-opt1"), size=300)
ZIGBEE_IMAGE = build_image(
    bytes(range(200)), manufacturer_id=0x1234, image_type=0x0101, file_version=2, integrity=True
)
SEEDS = (ZIGBEE_IMAGE, GB_IMAGE, (PROJECT / "images" / "gb-ppmid.ota").read_bytes())
RTDS = PROJECT / "tests" / "data" / "rtds"
GBCS_SEEDS = tuple(bytes.fromhex(p.read_text()) for p in sorted(RTDS.glob("*.HEX")))
"""The DCC's test messages: signed, MAC'd, both; commands, responses, an alert."""
RTDS_PUBLIC = sorted(str(p) for p in RTDS.glob("*.pem"))
RTDS_KA_KEY = str(RTDS / "90b3d51f30000002-ka.key")

# -- inputs -----------------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[bytes, ...] = SEEDS) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "grow", "splice"]))
        if op == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[draw(st.integers(0, len(data))) :]
        elif op == "grow":
            data += draw(st.binary(max_size=40))
        elif data:
            i = draw(st.integers(0, len(data) - 1))
            data[i : i + 4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(data)


any_bytes = st.one_of(
    st.sampled_from(SEEDS),
    st.sampled_from(SEEDS),
    mutated(),
    st.binary(max_size=300),
    st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
)

odd_text = st.sampled_from(
    ["", " ", "-1", "0", "1", "0x10", "0xFFFFFFFF", "4294967296", "1e400", "nan", "abc",
     "[red]x[/red]", "[/x]", "\u00e9", "--", "*", "-0x1", "99999999999999999999"]
)  # fmt: skip
numbers = st.one_of(st.integers(-5, 70000).map(str), st.integers(0, 2**40).map(hex), odd_text)


def pick(hostile: bool, valid: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """A valid value in a well-formed example; in a hostile one, anything. (Mixing bad values
    into every example would only ever test bad usage, never the code behind it.)"""
    return st.one_of(valid, bad) if hostile else valid


def small(hostile: bool, low: int, high: int) -> st.SearchStrategy[str]:
    return pick(hostile, st.integers(low, high).map(str), numbers)


class Files:
    """Where a run's input and output files live (one fresh directory per example)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        self.message: bytes | None = None
        """The GBCS message a `gbcs verify` example checks."""

    def write(self, data: bytes, suffix: str = ".ota") -> str:
        self.count += 1
        path = self.root / f"in{self.count}{suffix}"
        path.write_bytes(data)
        return str(path)

    def output(self, name: str) -> str:
        return str(self.root / name)


def path_arg(files: Files, data: bytes, special: str | None, suffix: str = ".ota") -> str:
    if special == "missing":
        return files.output("missing" + suffix)
    if special == "directory":
        return str(files.root)
    if special == "null":
        return "/dev/null"
    if special == "empty-name":
        return ""
    return files.write(data, suffix)


def file_bytes(hostile: bool) -> st.SearchStrategy[bytes]:
    return any_bytes if hostile else st.sampled_from(SEEDS)


def specials(hostile: bool) -> st.SearchStrategy[str | None]:
    bad = st.sampled_from(["missing", "directory", "null", "empty-name"])
    return st.one_of(st.none(), bad) if hostile else st.none()


# -- commands ---------------------------------------------------------------------------------


@st.composite
def image_inspect(draw: st.DrawFn, files: Files, hostile: bool) -> list[str]:
    args = ["image", "inspect", path_arg(files, draw(file_bytes(hostile)), draw(specials(hostile)))]
    if draw(st.booleans()):
        args.append("--json")
    if draw(st.booleans()):
        args += [
            "--format",
            draw(pick(hostile, st.sampled_from(["auto", "zigbee", "gb"]), st.just("bogus"))),
        ]
    if draw(st.booleans()):
        args.append("--strict")
    return args


@st.composite
def image_verify(draw: st.DrawFn, files: Files, hostile: bool) -> list[str]:
    args = ["image", "verify", path_arg(files, draw(file_bytes(hostile)), draw(specials(hostile)))]
    key = draw(pick(hostile, st.sampled_from([None, "cert", "key", "rogue"]), st.just("garbage")))
    if key == "cert":
        args += ["--supplier-cert", str(PKI / "supplier-a.cert.pem")]
    elif key == "key":
        args += ["--supplier-key", str(PKI / "supplier-a.key.pem")]
    elif key == "rogue":
        args += ["--supplier-cert", str(PKI / "rogue.cert.pem")]
    elif key == "garbage":
        args += ["--supplier-key", files.write(draw(st.binary(max_size=80)), ".pem")]
    if draw(st.booleans()):
        args += [
            "--hash",
            draw(pick(hostile, st.binary(min_size=32, max_size=32).map(bytes.hex), odd_text)),
        ]
    for flag in ("--strict",):
        if draw(st.booleans()):
            args.append(flag)
    if draw(st.booleans()):
        args += ["--format", draw(st.sampled_from(["auto", "zigbee", "gb"]))]
    return args


@st.composite
def image_build(draw: st.DrawFn, files: Files, hostile: bool) -> list[str]:
    args = ["image", "build", "-o", files.output("built.ota")]
    for option in ("--manufacturer-id", "--image-type", "--file-version"):
        if draw(st.integers(0, 19)):
            args += [option, draw(small(hostile, 0, 0xFFFF))]
    if draw(st.integers(0, 9)):
        args += [
            "--payload",
            path_arg(files, draw(st.binary(max_size=400)), draw(specials(hostile))),
        ]
    if draw(st.booleans()):
        args += ["--min-hw", draw(small(hostile, 0, 3)), "--max-hw", draw(small(hostile, 0, 3))]
    if draw(st.booleans()):
        args.append("--gb")
        if draw(st.booleans()):
            args += ["--supplier-key", str(PKI / "supplier-a.key.pem")]
    return args


@st.composite
def gbcs_decode(draw: st.DrawFn, files: Files, hostile: bool) -> list[str]:
    if draw(st.booleans()):
        text = draw(pick(hostile, st.binary(min_size=1, max_size=120).map(bytes.hex), odd_text))
        return ["gbcs", "decode", text]
    return [
        "gbcs",
        "decode",
        path_arg(files, draw(st.binary(max_size=200)), draw(specials(hostile))),
    ]


@st.composite
def gbcs_verify(draw: st.DrawFn, files: Files, hostile: bool) -> list[str]:
    """A DCC test message, whole or damaged (as hex text, raw bytes or an argument), checked
    with the DCC's test keys, whichever fit; the test asserts a damaged one never verifies."""
    seeds = st.sampled_from(GBCS_SEEDS)
    message = draw(pick(hostile, seeds, st.one_of(mutated(GBCS_SEEDS), st.binary(max_size=200))))
    files.message = message
    form = draw(st.sampled_from(["hex-file", "raw-file", "argument"]))
    if form == "argument":
        args = ["gbcs", "verify", message.hex()]
    else:
        data = message.hex().encode() if form == "hex-file" else message
        args = ["gbcs", "verify", path_arg(files, data, draw(specials(hostile)), ".hex")]
    pem = st.sampled_from([*RTDS_PUBLIC, RTDS_KA_KEY])
    keys = [draw(pem), RTDS_KA_KEY, draw(pem)]  # signer; key agreement: own, peer
    if hostile and draw(st.integers(0, 3)) == 0:  # damaged messages mostly reach the checks
        keys[draw(st.integers(0, 2))] = files.write(draw(st.binary(max_size=80)), ".pem")
    elif hostile:
        keys[1] = draw(pem)
    signer = draw(st.booleans())
    if signer:
        args += [draw(st.sampled_from(["--supplier-cert", "--supplier-key"])), keys[0]]
    if not signer or draw(st.booleans()):
        args += ["--ka-key", keys[1], "--peer-cert", keys[2]]
    if draw(st.booleans()):
        args.append("--json")
    return args


@st.composite
def ota_simulate(draw: st.DrawFn, files: Files, hostile: bool) -> list[str]:
    args = ["ota", "simulate", "--json"]
    if draw(st.booleans()):
        args += ["--profile", draw(pick(hostile, st.sampled_from(PROFILES), odd_text))]
        args += ["--image-size", draw(pick(hostile, st.sampled_from(["64", "300"]), numbers))]
        if draw(st.booleans()):
            args += ["--activate", draw(st.sampled_from(
                ["auto", "critical", "non-critical", "ch-managed", "none"]
            ))]  # fmt: skip
        if draw(st.booleans()):
            args += [
                "--supplier",
                draw(pick(hostile, st.sampled_from(["A", "B", "rogue", "forged"]), st.just("Z"))),
            ]
        if draw(st.booleans()):
            args += ["--at", draw(st.sampled_from(
                ["2026-01-01T00:10:00Z", "2026-01-01T01:00:00+01:00"]
            ))]  # fmt: skip
    if "--profile" not in args or draw(st.integers(0, 3)) == 0:
        args += ["--image", path_arg(files, draw(file_bytes(hostile)), draw(specials(hostile)))]
    for option in ("--max-data-size", "--server-block-cap", "--page-size", "--seed"):
        if draw(st.integers(0, 3)) == 0:
            args += [option, draw(small(hostile, 1, 255))]
    for option in ("--drop", "--duplicate", "--reorder", "--corrupt", "--power-loss"):
        if draw(st.integers(0, 4)) == 0:
            rates = st.sampled_from(["0", "0.1", "0.5", "1"])
            args += [option, draw(pick(hostile, rates, st.sampled_from(["-1", "2", "x"])))]
    if draw(st.integers(0, 4)) == 0:
        times = st.sampled_from(["now", "wait", "30"])
        args += ["--upgrade-time", draw(pick(hostile, times, st.sampled_from(["-1", "x"])))]
    return args


@st.composite
def home_file(draw: st.DrawFn, hostile: bool) -> bytes:
    """A home file: well formed (and small enough to run in a moment), or in a hostile example
    anything from a bad value to bytes that are not TOML."""
    if hostile and draw(st.integers(0, 4)) == 0:
        return draw(any_bytes)
    radios = st.sampled_from(["zigpy", "virtual", "fm"])
    durations = st.sampled_from(["1", "0", "-3", '"x"'])
    lines = [
        "[home]",
        f"seed = {draw(st.integers(0, 50))}",
        f'radio = "{draw(pick(hostile, st.just("direct"), radios))}"',
        f"duration = {draw(pick(hostile, st.sampled_from(['600', '7200']), durations))}",
    ]
    for i in range(draw(st.integers(1, 3))):
        name = draw(pick(hostile, st.just("d"), st.sampled_from(["[red]c[/red]", "", "*"])))
        profile = draw(st.sampled_from(PROFILES))
        lines += ["[[device]]", f'name = "{name}{i}"']
        lines.append(f'profile = "{draw(pick(hostile, st.just(profile), st.just("nope")))}"')
        if draw(st.booleans()):
            routes = st.sampled_from(load_profile(profile).routes).map(str)
            lines.append(f'route = "{draw(pick(hostile, routes, st.just("air")))}"')
    if draw(st.booleans()):
        size = draw(pick(hostile, st.sampled_from(["64", "512"]), st.sampled_from(["0", '"big"'])))
        lines += [
            "[[campaign]]",
            f'device = "{draw(pick(hostile, st.just("*"), st.sampled_from(["d0", "nobody"])))}"',
            f"build = {{ file_version = 0x0123ABCE, size = {size} }}",
            f"at = {draw(pick(hostile, st.sampled_from(['0', '10']), st.just('-1')))}",
        ]
    if draw(st.booleans()):
        rate = draw(pick(hostile, st.sampled_from(["0", "0.2"]), st.sampled_from(["0.95", "-1"])))
        lines += ["[faults]", f"drop_rate = {rate}"]
    if hostile and draw(st.integers(0, 4)) == 0:
        junk = ["[[", "x = ", "unknown = 1", "[home]", "\x00", "seed = 99999999999999999999999"]
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(junk)))
    return "\n".join(lines).encode()


@st.composite
def home_run(draw: st.DrawFn, files: Files, hostile: bool) -> list[str]:
    args = [
        "home",
        "run",
        path_arg(files, draw(home_file(hostile)), draw(specials(hostile)), ".toml"),
        "--json",
    ]
    if draw(st.booleans()):
        args += ["--report", files.output("report.json")]
    if draw(st.integers(0, 3)) == 0:
        args += ["--seed", draw(small(hostile, 0, 99))]
    return args


@st.composite
def profiles_cmd(draw: st.DrawFn, files: Files, hostile: bool) -> list[str]:
    if draw(st.booleans()):
        return ["profiles", "list"]
    args = ["profiles", "show", draw(pick(hostile, st.sampled_from(PROFILES), odd_text))]
    return [*args, "--json"] if draw(st.booleans()) else args


COMMANDS = (image_inspect, image_verify, image_build, gbcs_decode, gbcs_verify, ota_simulate,
            home_run, profiles_cmd)  # fmt: skip


def _outputs_whole(files: Files) -> None:
    built = files.root / "built.ota"
    if built.exists():
        parse_image(built.read_bytes())  # a build is written whole or not at all
    report = files.root / "report.json"
    if report.exists():
        import json

        json.loads(report.read_text())
    leftovers = [p.name for p in files.root.iterdir() if p.name.startswith(".") or "tmp" in p.name]
    assert not leftovers, f"temporary files left behind: {leftovers}"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_command_exits_0_1_or_2_with_one_line_and_no_traceback(tmp_path_factory, data):
    files = Files(tmp_path_factory.mktemp("fuzz"))
    hostile = data.draw(st.integers(0, 3)) == 0, "hostile"
    command = data.draw(st.sampled_from(COMMANDS))
    args = data.draw(command(files, hostile[0]))
    random.seed(0)
    started = time.monotonic()
    result = CliRunner().invoke(cli, args)
    took = time.monotonic() - started
    where = f"hanemu {' '.join(args)!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        where,
        result.exception,
    )
    assert result.exit_code in (0, 1, 2), (where, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, where
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (where, result.stderr)
    assert took < TIME_BOUND_S, (where, took)
    if args[:2] == ["gbcs", "verify"] and result.exit_code == 0:
        assert files.message in GBCS_SEEDS, f"{where}: a damaged message verified"
    _outputs_whole(files)
