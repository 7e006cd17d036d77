"""`hanemu image` end to end through the real console script: build, inspect, verify."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.cli import cli
from emulator.testing.strategies import mutated, ota_files
from emulator.testpki import write_key_pair

HANEMU = [sys.executable, "-m", "emulator.cli"]
TV2 = Path(__file__).parent.parent / "data" / "tv2-ota-static-sample.ota"


def hanemu(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*HANEMU, *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    key, cert = write_key_pair(directory, "supplier-a")
    rogue_key, _ = write_key_pair(directory, "rogue")
    return {"key": key, "cert": cert, "rogue": rogue_key}


@pytest.fixture()
def payload(tmp_path):
    path = tmp_path / "payload.bin"
    path.write_bytes(bytes(range(256)) * 20)
    return path


def test_build_inspect_verify_zigbee(tmp_path, payload):
    out = tmp_path / "z.ota"
    extra = tmp_path / "extra.bin"
    extra.write_bytes(b"vendor data")
    built = hanemu(
        "image",
        "build",
        "-o",
        out,
        "--manufacturer-id",
        "0x1234",
        "--image-type",
        "7",
        "--file-version",
        "0x01020304",
        "--payload",
        payload,
        "--header-string",
        "demo",
        "--min-hw",
        "0x0100",
        "--max-hw",
        "0x01ff",
        "--destination",
        "00:0d:6f:00:00:19:8b:36",
        "--security-credential-version",
        "3",
        "--tag",
        f"0xF001:{extra}",
        "--integrity",
    )
    assert built.returncode == 0, built.stderr
    shown = hanemu("image", "inspect", "--json", out)
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["format"] == "zigbee"
    assert info["header"] == {
        "upgrade_file_id": 0x0BEEF11E,
        "header_version": 0x0100,
        "header_length": 69,
        "field_control": 7,
        "manufacturer_id": 0x1234,
        "image_type": 7,
        "file_version": 0x01020304,
        "stack_version": 2,
        "header_string": "demo",
        "image_size": out.stat().st_size,
        "security_credential_version": 3,
        "upgrade_file_destination": "00:0d:6f:00:00:19:8b:36",
        "minimum_hardware_version": 0x0100,
        "maximum_hardware_version": 0x01FF,
    }
    assert [e["tag"] for e in info["subelements"]] == [0x0000, 0xF001, 0x0003]
    assert info["subelements"][0] == {"tag": 0, "offset": 69, "length": 5120}
    assert info["integrity"]["present"] and info["integrity"]["valid"]
    assert info["warnings"] == []
    assert hanemu("image", "verify", out).returncode == 0


def test_gb_round_trip_and_flipped_byte(tmp_path, payload, pki):
    out = tmp_path / "gb.ota"
    built = hanemu(
        "image",
        "build",
        "-o",
        out,
        "--manufacturer-id",
        "0x1234",
        "--image-type",
        "0x0301",
        "--file-version",
        "0x102",
        "--payload",
        payload,
        "--min-hw",
        "1",
        "--max-hw",
        "2",
        "--gb",
        "--supplier-key",
        pki["key"],
    )
    assert built.returncode == 0, built.stderr
    info = json.loads(hanemu("image", "inspect", "--json", out).stdout)
    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    assert info["format"] == "gb"
    assert info["manufacturer_image_hash"] == digest  # SHA-256 of the Manufacturer Image alone
    assert info["signature_present"] is True
    assert info["subelements"] == []
    ok = hanemu("image", "verify", out, "--supplier-cert", pki["cert"], "--hash", digest)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "supplier signature: valid" in ok.stdout
    assert hanemu("image", "verify", out, "--supplier-key", pki["key"]).returncode == 0

    data = bytearray(out.read_bytes())
    data[60 + 100] ^= 0x01
    flipped = tmp_path / "flipped.ota"
    flipped.write_bytes(bytes(data))
    bad = hanemu("image", "verify", flipped, "--supplier-cert", pki["cert"])
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        f"{flipped}: INVALID: supplier signature: does not verify with the supplier key"
    ]
    wrong_signer = hanemu("image", "verify", out, "--supplier-key", pki["rogue"])
    assert wrong_signer.returncode == 1 and "supplier signature" in wrong_signer.stderr
    wrong_hash = hanemu("image", "verify", out, "--hash", "00" * 32)
    assert wrong_hash.returncode == 1 and "manufacturer image hash" in wrong_hash.stderr


def test_ppmid_form_without_key(tmp_path, payload):
    out = tmp_path / "ppmid.ota"
    built = hanemu(
        "image",
        "build",
        "-o",
        out,
        "--manufacturer-id",
        "1",
        "--image-type",
        "2",
        "--file-version",
        "3",
        "--payload",
        payload,
        "--min-hw",
        "1",
        "--max-hw",
        "2",
        "--gb",
    )
    assert built.returncode == 0, built.stderr
    info = json.loads(hanemu("image", "inspect", "--json", "--format", "gb", out).stdout)
    assert info["signature_present"] is False
    assert out.stat().st_size == 60 + payload.stat().st_size


def test_inspect_reports_unparseable_files_and_exits_2(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    result = hanemu("image", "inspect", "--json", TV2, junk, tmp_path / "missing.ota")
    assert result.returncode == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(TV2), str(junk), str(tmp_path / "missing.ota")]
    assert lines[0]["header"]["manufacturer_id"] == 0x1002
    assert lines[1] == {
        "path": str(junk),
        "error": "not an OTA upgrade file: magic is not 0x0beef11e (field upgrade_file_id at "
        "offset 0)",
    }
    assert "error" in lines[2]


def test_strict_inspect_refuses_trailing_bytes(tmp_path):
    sloppy = tmp_path / "sloppy.ota"
    sloppy.write_bytes(TV2.read_bytes() + b"\x00\x00")
    lenient = json.loads(hanemu("image", "inspect", "--json", sloppy).stdout)
    assert lenient["warnings"] and "TotalImageSize 182" in lenient["warnings"][0]
    strict = hanemu("image", "inspect", "--json", "--strict", sloppy)
    assert strict.returncode == 2 and "image_size" in json.loads(strict.stdout)["error"]


@pytest.mark.parametrize(
    "args",
    [
        ["image", "verify", "{junk}"],
        ["image", "verify", "{missing}"],
        ["image", "verify", "{tv2}", "--supplier-key", "{junk}"],
        ["image", "verify", "{tv2}", "--hash", "xyz"],
        ["image", "inspect", "{junk}"],
        [
            "image",
            "build",
            "-o",
            "{out}",
            "--manufacturer-id",
            "1",
            "--image-type",
            "1",
            "--file-version",
            "1",
            "--payload",
            "{junk}",
            "--header-string",
            "x" * 40,
        ],
        [
            "image",
            "build",
            "-o",
            "{out}",
            "--manufacturer-id",
            "0x10000",
            "--image-type",
            "1",
            "--file-version",
            "1",
            "--payload",
            "{junk}",
        ],
        [
            "image",
            "build",
            "-o",
            "{out}",
            "--manufacturer-id",
            "1",
            "--image-type",
            "1",
            "--file-version",
            "1",
            "--payload",
            "{junk}",
            "--tag",
            "nonsense",
        ],
        [
            "image",
            "build",
            "-o",
            "{out}",
            "--manufacturer-id",
            "1",
            "--image-type",
            "1",
            "--file-version",
            "1",
            "--payload",
            "{junk}",
            "--min-hw",
            "1",
        ],
        [
            "image",
            "build",
            "-o",
            "{out}",
            "--manufacturer-id",
            "1",
            "--image-type",
            "1",
            "--file-version",
            "1",
            "--payload",
            "{junk}",
            "--destination",
            "zz",
        ],
    ],
)
def test_bad_input_gets_one_line_and_no_traceback(tmp_path, args):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"NGIS" + b"\xff" * 40)
    names = {"junk": junk, "missing": tmp_path / "nope", "tv2": TV2, "out": tmp_path / "o.ota"}
    result = hanemu(*[a.format(**names) for a in args])
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip(), "the user is told what went wrong"


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=300, deadline=None)
@given(data=mutated(ota_files(max_payload=64) | st.just(TV2.read_bytes())))
def test_cli_on_mutated_files_exits_cleanly(fuzz_dir, data):
    path = fuzz_dir / "mutated.ota"
    path.write_bytes(data)
    runner = CliRunner()
    for args in (["image", "inspect", "--json", str(path)], ["image", "verify", str(path)]):
        result = runner.invoke(cli, args)
        # Only a deliberate exit: 0 valid, 1 a check failed, 2 unparseable. Never a traceback.
        assert isinstance(result.exception, SystemExit | None), result.exception
        assert result.exit_code in (0, 1, 2)
        assert "Traceback" not in result.output


def test_every_command_area_loads():
    """Areas load lazily; each name must lead to a click group of that name."""
    from emulator.cli import AREAS

    runner = CliRunner()
    for name in AREAS:
        group = cli.get_command(click.Context(cli), name)
        assert isinstance(group, click.Group) and group.name == name
        assert runner.invoke(cli, [name, "--help"]).exit_code == 0
