"""`hanemu gbcs decode | verify` through the CLI group (error boundary included).

Messages come from hanemu's own head-end and device code with the test PKI, and from the DCC's
RTDS test messages in tests/data/rtds (made by nobody here)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.cli import cli
from emulator.gbcs.frame import Cra, Frame, GroupingHeader, decode_frame
from emulator.gbcs.headend import TEST_ENTITY_IDS, HeadEnd, RemoteParty
from emulator.gbcs.messages import (
    ActivateFirmwareResponse,
    DlmsReceiptAlert,
    ExecutionOutcome,
    FirmwareTransferAlert,
    GsmeFirmwareVersionRead,
    GsmeFirmwareVersionReadResponse,
)
from emulator.gbcs.security import sign_frame
from emulator.testpki import derive_key, write_key_pair

DEVICE_ID = bytes.fromhex("00DB1234567890A4")
IMAGE_HASH = hashlib.sha256(b"image").digest()
RTDS = Path(__file__).resolve().parents[1] / "data" / "rtds"
PARTIES = ("supplier-a", "rogue", "acb", "dev-ka")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """name -> (private key PEM, certificate PEM) for the test PKI's parties."""
    directory = tmp_path_factory.mktemp("pki")
    return {name: write_key_pair(directory, name) for name in PARTIES}


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


def keys(pki, *, supplier="supplier-a", ka="acb", peer="dev-ka"):
    """verify's options: the supplier's certificate, the ACB's KA key and the device's cert."""
    return (
        "--supplier-cert", pki[supplier][1], "--ka-key", pki[ka][0], "--peer-cert", pki[peer][1],
    )  # fmt: skip


def checks(result) -> dict[str, str]:
    """check name -> result word, from verify's text output."""
    out = {}
    for line in result.stdout.splitlines():
        name, _, rest = line.partition(": ")
        if name in ("signature", "mac"):
            out[name] = rest.split(" (")[0]
    return out


def flipped(message: bytes, at: int) -> bytes:
    data = bytearray(message)
    data[at] ^= 0x01
    return bytes(data)


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


# --- verify: signature and MAC


def test_a_genuine_cs06_verifies(pki, signed_command, tmp_path):
    path = tmp_path / "cs06.bin"
    path.write_bytes(signed_command)
    result = run("verify", path, *keys(pki))
    assert result.exit_code == 0, result.output
    assert checks(result) == {"signature": "valid", "mac": "valid"}
    assert result.stdout.splitlines()[-1] == f"{path}: OK"
    assert "CS06 Activate Firmware (0x0012) command" in result.stdout


def test_verify_json_says_each_check(pki, signed_command):
    result = run("verify", signed_command.hex(), *keys(pki), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["signature"]["result"] == "valid" and data["mac"]["result"] == "valid"
    assert data["ok"] is True and data["pre_command"] is False
    assert data["message_code"] == "0x0012"


def test_either_party_key_agreement_key_checks_the_mac(pki, signed_command):
    """ECDH is symmetric: the device's KA key with the ACB's certificate gives the same key."""
    result = run("verify", signed_command.hex(), *keys(pki, ka="dev-ka", peer="acb"))
    assert result.exit_code == 0
    assert checks(result)["mac"] == "valid"


def test_the_supplier_key_may_be_private_or_public(pki, signed_command, tmp_path):
    private, cert = pki["supplier-a"]
    public = tmp_path / "supplier-a.pub.pem"
    public.write_bytes(
        derive_key("supplier-a")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for option, pem in (
        ("--supplier-key", private),
        ("--supplier-key", public),
        ("--supplier-cert", cert),
    ):
        result = run("verify", signed_command.hex(), option, pem)
        assert result.exit_code == 0, (option, pem)
        assert checks(result) == {"signature": "valid", "mac": "not checked"}


def test_a_flipped_mac_byte_fails_the_mac_only(pki, signed_command):
    result = run("verify", flipped(signed_command, len(signed_command) - 1).hex(), *keys(pki))
    assert result.exit_code == 1
    assert checks(result) == {"signature": "valid", "mac": "invalid"}
    assert "INVALID: mac invalid" in result.stderr


def test_a_flipped_signature_byte_fails(pki, signed_command):
    at = len(signed_command) - 12 - 10  # inside the 64-octet signature, before the MAC
    assert (
        decode_frame(flipped(signed_command, at)).signature
        != decode_frame(signed_command).signature
    )
    result = run(
        "verify", flipped(signed_command, at).hex(), "--supplier-cert", pki["supplier-a"][1]
    )
    assert result.exit_code == 1
    assert checks(result) == {"signature": "invalid", "mac": "not checked"}
    both = run("verify", flipped(signed_command, at).hex(), *keys(pki))
    assert both.exit_code == 1
    assert checks(both) == {"signature": "invalid", "mac": "invalid"}  # the MAC covers it too


def test_a_flipped_payload_byte_fails_both(pki, signed_command):
    at = decode_frame(signed_command).payload_offset() + 5
    result = run("verify", flipped(signed_command, at).hex(), *keys(pki))
    assert result.exit_code == 1
    assert checks(result) == {"signature": "invalid", "mac": "invalid"}


def test_a_wrong_peer_key_fails_the_mac(pki, signed_command):
    result = run("verify", signed_command.hex(), *keys(pki, peer="rogue"))
    assert result.exit_code == 1
    assert checks(result) == {"signature": "valid", "mac": "invalid"}


def test_a_wrong_supplier_fails_the_signature(pki, signed_command):
    result = run("verify", signed_command.hex(), *keys(pki, supplier="rogue"))
    assert result.exit_code == 1
    assert checks(result) == {"signature": "invalid", "mac": "valid"}


def test_a_key_given_for_what_the_message_lacks_is_absent_and_fails(pki):
    """CS08 is Non-Critical: MAC only. A supplier key asks for a signature that is not there."""
    headend = HeadEnd(derive_key("acb"))
    party = RemoteParty(TEST_ENTITY_IDS["supplier-a"])
    cs08 = headend.read_firmware_version(party, DEVICE_ID, derive_key("dev-ka").public_key())
    result = run("verify", cs08.hex(), *keys(pki))
    assert result.exit_code == 1
    assert checks(result) == {"signature": "absent", "mac": "valid"}
    assert "INVALID: signature absent" in result.stderr
    mac_only = run("verify", cs08.hex(), "--ka-key", pki["acb"][0], "--peer-cert", pki["dev-ka"][1])
    assert mac_only.exit_code == 0
    assert checks(mac_only) == {"signature": "not checked", "mac": "valid"}


def test_a_signed_alert_without_a_mac(pki):
    frame = sign_frame(
        Frame(
            GroupingHeader(Cra.ALERT, 3, DEVICE_ID, TEST_ENTITY_IDS["supplier-a"], 0x0128),
            FirmwareTransferAlert(
                0x8F8A, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), DEVICE_ID, b"\x01\x02\x03\x04", 0
            ).to_der(),
        ),
        derive_key("dev-ka"),
    )
    signed = run("verify", frame.encode().hex(), "--supplier-cert", pki["dev-ka"][1])
    assert signed.exit_code == 0 and checks(signed)["signature"] == "valid"
    result = run("verify", frame.encode().hex(), *keys(pki, supplier="dev-ka"))
    assert result.exit_code == 1
    assert checks(result) == {"signature": "valid", "mac": "absent"}


def test_a_pre_command_has_neither_signature_nor_mac(pki, signed_command):
    pre = decode_frame(signed_command).to_pre_command().encode()
    result = run("verify", pre.hex(), *keys(pki))
    assert result.exit_code == 1
    assert checks(result) == {"signature": "absent", "mac": "absent"}
    assert "pre-command" in result.stdout


def test_the_dcc_cs06_test_command_verifies_with_the_dcc_test_keys():
    """RTDS 4.5.0: supplier signature and ACB/ESME MAC, bytes made by nobody here."""
    result = run(
        "verify",
        RTDS / "CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX",
        "--supplier-cert", RTDS / "90b3d51f30010000-ds.pem",
        "--ka-key", RTDS / "90b3d51f30000002-ka.key",
        "--peer-cert", RTDS / "00db1234567890a0-ka.pem",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert checks(result) == {"signature": "valid", "mac": "valid"}
    wrong_device = run(
        "verify",
        RTDS / "CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX",
        "--ka-key", RTDS / "90b3d51f30000002-ka.key",
        "--peer-cert", RTDS / "00db1234567890a4-ka.pem",
    )  # fmt: skip
    assert wrong_device.exit_code == 1
    assert checks(wrong_device)["mac"] == "invalid"


@pytest.mark.parametrize(
    "options",
    [
        (),
        ("--supplier-cert", "a.pem", "--supplier-key", "b.pem"),
        ("--ka-key", "a.pem"),
        ("--peer-cert", "a.pem"),
    ],
)
def test_verify_usage_errors_are_one_line(signed_command, options):
    result = run("verify", signed_command.hex(), *options)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ")


@settings(max_examples=150)
@given(st.data())
def test_a_mutated_command_never_verifies_and_never_crashes(pki, signed_command, data):
    """Flip, cut or extend the message anywhere: valid only when nothing changed; otherwise
    exit 1 (a check fails) or 2 (one line naming the field and offset)."""
    mutation = data.draw(st.sampled_from(["flip", "cut", "extend"]))
    message = bytearray(signed_command)
    if mutation == "flip":
        at = data.draw(st.integers(0, len(message) - 1))
        message[at] ^= data.draw(st.integers(1, 255))
    elif mutation == "cut":
        del message[data.draw(st.integers(1, len(message) - 1)) :]
    else:
        message += data.draw(st.binary(min_size=1, max_size=8))
    result = run("verify", bytes(message).hex(), *keys(pki), "--json")
    assert result.exit_code in (1, 2), result.output
    if result.exit_code == 2:
        assert result.stdout == "" and result.stderr.count("\n") == 1
        assert result.stderr.startswith("error: hex argument: ") and "offset" in result.stderr
    else:
        report = json.loads(result.stdout)
        assert report["ok"] is False
        assert "invalid" in (report["signature"]["result"], report["mac"]["result"])


@pytest.fixture()
def hostile(tmp_path, signed_command):
    """Files a hostile user might hand `gbcs verify`, by name."""
    files = {
        "truncated.bin": signed_command[:30],
        "cut-mac.bin": signed_command[:-1],
        "garbage.bin": bytes(range(0x80, 0x100)) * 4,
        "empty.bin": b"",
        "bad-hex.hex": b"DF09 01Z0",
        "odd-hex.hex": b"DF0",
        "trailing.bin": signed_command + b"\x00",
        "bad.pem": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "not-pem.pem": b"hello",
        "p384.pem": ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "a-directory").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("message", "options", "words"),
    [
        ("truncated.bin", (), "truncated.bin: ciphered length"),
        ("cut-mac.bin", (), "cut-mac.bin: ciphered length"),
        (
            "garbage.bin",
            (),
            "garbage.bin: expected 0xDF or 0xDD, found 0x80 (field tag at offset 0)",
        ),
        ("empty.bin", (), "empty.bin: empty message (field tag at offset 0)"),
        ("bad-hex.hex", (), "bad-hex.hex: not hex: 'Z' is no hex digit (field input at offset 7)"),
        ("odd-hex.hex", (), "odd-hex.hex: not hex: an odd number of hex digits (3)"),
        ("trailing.bin", (), "trailing.bin: ciphered length"),
        ("missing.bin", (), "missing.bin: not a file and not hex"),
        ("a-directory", (), "a-directory: is a directory, not a GBCS message"),
        ("/dev/null", (), "/dev/null: not a regular file (a character device)"),
        (None, ("--supplier-cert", "bad.pem"), "bad.pem: not a PEM certificate"),
        (None, ("--supplier-cert", "not-pem.pem"), "not-pem.pem: not a PEM key or certificate"),
        (None, ("--supplier-key", "p384.pem"), "p384.pem: expected curve P-256, got secp384r1"),
        (None, ("--ka-key", "p384.pem", "--peer-cert", "bad.pem"), "p384.pem: expected curve"),
        (None, ("--ka-key", "bad.pem", "--peer-cert", "bad.pem"), "bad.pem: not a PEM private key"),
        (None, ("--supplier-cert", "a-directory"), "a-directory: is a directory, not a PEM file"),
        (None, ("--supplier-cert", "missing.pem"), "missing.pem: no such file"),
    ],
)
def test_unreadable_verify_input_is_one_line_exit_2(
    pki, hostile, signed_command, monkeypatch, message, options, words
):
    monkeypatch.chdir(hostile)
    (hostile / "good.bin").write_bytes(signed_command)
    result = run("verify", message or "good.bin", *(options or keys(pki)))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert words in result.stderr
    assert "Traceback" not in result.output


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


# --- decode: every message code of gb-firmware.md §4.2, and pre-commands


def _frame(cra: Cra, code: int, payload: bytes) -> bytes:
    return Frame(GroupingHeader(cra, 5, DEVICE_ID, TEST_ENTITY_IDS["acb"], code), payload).encode()


@pytest.mark.parametrize(
    ("cra", "code", "payload", "name", "payload_type"),
    [
        (
            Cra.ALERT,
            0x0128,
            FirmwareTransferAlert(
                0x8F89, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), DEVICE_ID, b"\x01\x02\x03\x04", 2
            ).to_der(),
            "CCS08 Firmware Transfer Alert",
            "FirmwareTransferAlert",
        ),
        (
            Cra.ALERT,
            0x00CE,
            DlmsReceiptAlert(0x8F72, bytes(12), IMAGE_HASH, 0x200007D0).to_der(),
            "Firmware Distribution Receipt Alert (DLMS)",
            "DlmsReceiptAlert",
        ),
        (
            Cra.COMMAND,
            0x0084,
            GsmeFirmwareVersionRead().to_der(),
            "GCS38 Read GSME Firmware Version",
            "GsmeFirmwareVersionRead",
        ),
        (
            Cra.RESPONSE,
            0x0084,
            GsmeFirmwareVersionReadResponse(bytes.fromhex("0123ABCD")).to_der(),
            "GCS38 Read GSME Firmware Version",
            "GsmeFirmwareVersionReadResponse",
        ),
        (
            Cra.COMMAND,
            0x0059,
            bytes.fromhex("D9200003E800010100010000000201FF020100"),
            "ECS52 Read ESME/CH Firmware Version",
            "RawPayload",
        ),
    ],
)
def test_decode_names_every_firmware_message(cra, code, payload, name, payload_type):
    result = run("decode", _frame(cra, code, payload).hex(), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["message"] == name and data["payload_type"] == payload_type


def test_decode_shows_what_it_could_not_structure():
    ecs52 = _frame(Cra.RESPONSE, 0x0059, bytes.fromhex("DA200003E8000001090401 23ABCD010100"))
    data = json.loads(run("decode", ecs52.hex(), "--json").stdout)
    assert data["payload"]["raw"] == "DA200003E800000109040123ABCD010100"
    assert "gives no structure" in data["payload"]["note"]


def test_decode_shows_gcs38_fields_as_hex():
    gcs38 = _frame(Cra.COMMAND, 0x0084, GsmeFirmwareVersionRead().to_der())
    payload = json.loads(run("decode", gcs38.hex(), "--json").stdout)["payload"]
    assert payload == {
        "attributes": ["0x0206"], "cluster": "0x0702", "sequence": 0, "control": "0x01"
    }  # fmt: skip


def test_decode_shows_a_pre_command(signed_command, tmp_path):
    pre = decode_frame(signed_command).to_pre_command().encode()
    path = tmp_path / "pre.hex"
    path.write_text(pre.hex().upper())
    text = run("decode", path)
    assert text.exit_code == 0, text.output
    assert "pre_command = True" in text.stdout and "envelope = pre-command" in text.stdout
    data = json.loads(run("decode", path, "--json").stdout)
    assert data["pre_command"] is True
    assert data["signature_present"] is False and data["mac_present"] is False
    assert data["payload"]["image_hash"] == IMAGE_HASH.hex().upper()


def test_hex_text_with_a_utf8_mark_and_an_empty_argument(signed_command, tmp_path):
    marked = tmp_path / "marked.hex"
    marked.write_bytes(b"\xef\xbb\xbf" + signed_command.hex().encode() + b"\r\n")
    assert run("decode", marked).exit_code == 0
    empty = run("decode", "")
    assert empty.exit_code == 2
    assert empty.stderr == "error: hex argument: empty message (field tag at offset 0)\n"


def test_verify_refuses_a_well_signed_message_whose_payload_does_not_decode(
    pki, signed_command, tmp_path
):
    """A CS06 whose payload is cut short, then signed again by the real supplier: the signature
    is valid, but no device could read the command, so verify does not say OK."""
    frame = decode_frame(signed_command)
    broken = sign_frame(
        Frame(frame.header, frame.payload[:-3]), derive_key("supplier-a")
    ).general_signing()
    (tmp_path / "broken.bin").write_bytes(broken)
    result = run("verify", tmp_path / "broken.bin", "--supplier-cert", pki["supplier-a"][1])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "broken.bin" in result.stderr and "OK" not in result.output
