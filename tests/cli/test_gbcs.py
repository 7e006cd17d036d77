"""`hanemu gbcs decode | verify` through the CLI group (error boundary included)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.gbcs.frame import Cra, Frame, GroupingHeader
from emulator.gbcs.headend import TEST_ENTITY_IDS, HeadEnd, RemoteParty
from emulator.gbcs.messages import ActivateFirmwareResponse, ExecutionOutcome
from emulator.testpki import derive_key, write_key_pair

DEVICE_ID = bytes.fromhex("00DB1234567890A4")
IMAGE_HASH = hashlib.sha256(b"image").digest()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    return {name: write_key_pair(directory, name) for name in ("supplier-a", "rogue")}


@pytest.fixture(scope="module")
def signed_command() -> bytes:
    headend = HeadEnd(derive_key("acb"))
    party = RemoteParty(TEST_ENTITY_IDS["supplier-a"], derive_key("supplier-a"))
    when = dt.datetime(2030, 11, 15, 9, tzinfo=dt.UTC)
    return headend.activate_firmware(
        party, DEVICE_ID, derive_key("dev-ka").public_key(), IMAGE_HASH, execution_time=when
    )


def run(*args):
    return CliRunner().invoke(cli, ["gbcs", *map(str, args)])


def test_decode_json_shows_header_payload_and_signature(signed_command):
    result = run("decode", signed_command.hex(), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["message_code"] == "0x0012"
    assert data["cra_flag"] == "command"
    assert data["originator"] == TEST_ENTITY_IDS["supplier-a"].hex().upper()
    assert data["recipient"] == DEVICE_ID.hex().upper()
    assert data["originator_counter"] == 1
    assert data["date_time"] is None
    assert data["signature_present"] is True and data["mac_present"] is True
    assert data["payload"]["image_hash"] == IMAGE_HASH.hex().upper()
    assert data["payload"]["originator_counter"] == 1
    assert data["payload"]["execution_time"] == "2030-11-15T09:00:00Z"


def test_decode_text_from_a_hex_file(tmp_path, signed_command):
    path = tmp_path / "cmd.hex"
    path.write_text(" ".join(f"{b:02X}" for b in signed_command) + "\n")
    result = run("decode", path)
    assert result.exit_code == 0
    assert "message = CS06 Activate Firmware" in result.output
    assert "signature_present = True" in result.output


def test_decode_a_binary_file_and_an_unsigned_response(tmp_path):
    frame = Frame(
        GroupingHeader(Cra.RESPONSE, 9, DEVICE_ID, TEST_ENTITY_IDS["supplier-a"], 0x0012),
        ActivateFirmwareResponse(ExecutionOutcome(0, bytes.fromhex("0123ABCE"))).to_der(),
    )
    path = tmp_path / "rsp.bin"
    path.write_bytes(frame.encode())
    data = json.loads(run("decode", path, "--json").output)
    assert data["signature_present"] is False and data["mac_present"] is False
    assert data["payload"] == {"outcome": {"code": 0, "firmware_version": "0123ABCE"}}


def test_verify_exit_codes(pki, signed_command):
    (a_key, a_cert), rogue_cert = pki["supplier-a"], pki["rogue"][1]
    assert run("verify", signed_command.hex(), "--supplier-cert", a_cert).exit_code == 0
    assert run("verify", signed_command.hex(), "--supplier-key", a_key).exit_code == 0
    assert run("verify", signed_command.hex(), "--supplier-cert", rogue_cert).exit_code == 1
    tampered = bytearray(signed_command)
    tampered[40] ^= 1
    assert run("verify", tampered.hex(), "--supplier-cert", a_cert).exit_code == 1
    assert run("verify", signed_command[:30].hex(), "--supplier-cert", a_cert).exit_code == 2


def test_verify_unsigned_message_is_1(pki):
    frame = Frame(GroupingHeader(Cra.COMMAND, 1, bytes(8), DEVICE_ID, 0x0129), b"\x05\x00")
    result = run("verify", frame.encode().hex(), "--supplier-cert", pki["supplier-a"][1])
    assert result.exit_code == 1
    assert "no signature" in result.output


def test_verify_needs_exactly_one_key(pki, signed_command):
    assert run("verify", signed_command.hex()).exit_code == 2
    both = run(
        "verify",
        signed_command.hex(),
        "--supplier-cert",
        pki["supplier-a"][1],
        "--supplier-key",
        pki["supplier-a"][0],
    )
    assert both.exit_code == 2


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("DF0901", "offset"),
        ("zz-not-hex", "not a file and not hex"),
        ("30 09 02 01 00", "expected 0xDF or 0xDD"),
    ],
)
def test_unparseable_input_is_one_line_exit_2(message, words):
    result = run("decode", message)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert words in lines[0]
    assert "Traceback" not in result.output


def test_console_script_runs_decode(signed_command):
    done = subprocess.run(
        [sys.executable, "-m", "emulator.cli", "gbcs", "decode", signed_command.hex()],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "message_code = 0x0012" in done.stdout
