"""Paper IHD option 2, the Display Message route: the codec, the ESME's activation, the rogue
node's, and the same attack refused by an option-1 IHD, on both airs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.device.messaging import (
    DisplayMessage,
    activation_text,
    decode_display_message,
    encode_display_message,
    requested_hash,
)
from emulator.framesize import SMART_ENERGY, max_aps_payload
from emulator.home import load_home, run_home

OPTIONS = Path(__file__).resolve().parents[2] / "profiles" / "homes" / "options"


def test_activation_text_round_trips_and_fits_one_encrypted_frame():
    digest = hashlib.sha256(b"image").digest()
    text = activation_text(digest)
    assert requested_hash(text) == digest
    frame = encode_display_message(7, DisplayMessage(0x1234, text))
    assert len(frame) <= max_aps_payload(SMART_ENERGY)
    assert decode_display_message(frame) == DisplayMessage(0x1234, text)


def test_the_papers_wording_with_a_hex_hash_is_read_too():
    digest = hashlib.sha256(b"x").digest()
    assert requested_hash(f"Activate Firmware {digest.hex()}") == digest
    assert requested_hash("Your bill is ready") is None
    assert requested_hash("activate fw " + "A" * 42) is None  # not 32 octets


@given(st.binary(max_size=120))
def test_any_bytes_decode_to_a_message_or_none(data):
    message = decode_display_message(data)
    assert message is None or isinstance(message.text, str)


def _run(name: str, radio: str | None = None):
    report = run_home(load_home(OPTIONS / f"{name}.toml"), radio=radio)
    (device,) = report.devices
    return report, device


@pytest.mark.parametrize("radio", ["direct", "zigpy"])
def test_the_esme_activates_an_option2_ihd_and_the_run_says_it_breaks_the_model(radio):
    report, ihd = _run("ihd-opt2", radio)
    assert report.ok
    assert ihd.outcome == "activated"
    assert ihd.final_file_version == 0x0123ABCE
    (finding,) = ihd.findings
    assert (finding.kind, finding.severity) == ("display-message-activation", "medium")
    (command,) = ihd.gb["commands"]
    assert command["kind"] == "display-message" and command["verdict"] == "accepted"
    assert "8F43" in ihd.alerts  # the switch is reported like any other


@pytest.mark.parametrize("radio", ["direct", "zigpy"])
def test_a_rogue_display_message_activates_an_option2_ihd_as_a_high_finding(radio):
    report, ihd = _run("ihd-opt2-rogue", radio)
    assert report.ok
    assert ihd.outcome == "activated"
    (finding,) = ihd.findings
    assert (finding.kind, finding.severity) == ("rogue-activation", "high")
    assert "not the ESME" in finding.sentence
    assert ihd.gb["commands"] == []  # the supplier asked for nothing


@pytest.mark.parametrize("radio", ["direct", "zigpy"])
def test_the_same_attack_against_an_option1_ihd_is_refused(radio):
    report, ihd = _run("ihd-opt1-rogue", radio)
    assert report.ok
    assert ihd.outcome == "downloaded"
    assert ihd.final_file_version == ihd.start_file_version
    (finding,) = ihd.findings
    assert (finding.kind, finding.severity) == ("display-message-refused", "info")
    shown = [e for e in ihd.events if e["event"] == "display-message"]
    assert [e["verdict"] for e in shown] == ["activation-class-refuses-display-message"]


def test_a_rogue_text_naming_another_image_activates_nothing(tmp_path):
    text = (OPTIONS / "ihd-opt2-rogue.toml").read_text()
    wrong = activation_text(hashlib.sha256(b"another image").digest())
    home = tmp_path / "home.toml"
    home.write_text(
        text.replace('expect = "activated"', 'expect = "downloaded"')
        .replace('["rogue-activation"]', "[]")
        .replace("at = 600", f'at = 600\ntext = "{wrong}"')
    )
    report = run_home(load_home(home))
    (ihd,) = report.devices
    assert report.ok, ihd.reason
    assert ihd.final_file_version == ihd.start_file_version
    shown = [e for e in ihd.events if e["event"] == "display-message"]
    assert [e["verdict"] for e in shown] == ["accepted"]  # taken, then no image matched
    assert ihd.findings == []


def test_the_display_message_is_in_the_pcap(tmp_path):
    pcap = tmp_path / "home.pcap"
    run_home(load_home(OPTIONS / "ihd-opt2.toml"), pcap=pcap)
    assert activation_text(b"\0" * 32)[:12].encode() in pcap.read_bytes()
