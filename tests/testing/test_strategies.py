"""The public hypothesis strategies (`emulator.testing.strategies`) produce what they promise:
valid things decode with the project's own codecs, malformed ones are refused with the project's
own typed errors, mutated ones are one or the other, never anything else."""

from __future__ import annotations

import contextlib
import datetime as dt
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import FrameError, GbcsFormatError, HomeFileError
from emulator.gbcs.activation import ActivationHandler, ActivationState
from emulator.gbcs.frame import Cra, decode_frame
from emulator.gbcs.messages import decode_payload
from emulator.homefile import load_home
from emulator.ota import frames
from emulator.ota.link import LinkPolicy
from emulator.ota.policy import ClientPolicy
from emulator.testing import strategies as s

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@given(s.ota_frames())
def test_valid_ota_frames_decode_as_the_command_they_are(pair):
    name, data = pair
    frame = frames.decode(data)
    assert frame.name == name
    assert frame.header.tsn == data[1]


@given(st.sampled_from(s.OTA_COMMANDS).flatmap(lambda n: s.ota_frames((n,))))
def test_every_ota_command_is_generated(pair):
    assert frames.decode(pair[1]).name == pair[0]


@given(s.default_responses())
def test_default_responses_decode(data):
    assert frames.decode(data).name == frames.DEFAULT_RESPONSE


@given(s.malformed_ota_frames())
def test_malformed_ota_frames_are_refused_with_frame_error(data):
    try:
        frames.decode(data)
    except FrameError:
        return
    raise AssertionError(f"decoded a malformed frame {data.hex()}")


@given(s.mutated_ota_frames())
def test_mutated_ota_frames_decode_or_raise_frame_error(data):
    with contextlib.suppress(FrameError):
        frames.decode(data)


@settings(max_examples=20)
@given(s.gbcs_commands())
def test_gbcs_commands_decode_as_commands_for_the_device(data):
    frame = decode_frame(data)
    assert frame.header.cra is Cra.COMMAND
    assert frame.header.recipient == s.GBCS_DEVICE_ID
    assert decode_payload(frame.header.message_code, frame.header.cra, frame.payload) is not None


@settings(max_examples=20)
@given(s.gbcs_responses_and_alerts())
def test_gbcs_responses_and_alerts_decode(data):
    frame = decode_frame(data)
    assert frame.header.cra in (Cra.RESPONSE, Cra.ALERT)
    assert decode_payload(frame.header.message_code, frame.header.cra, frame.payload) is not None


@given(s.gbcs_payloads())
def test_gbcs_payloads_round_trip(pair):
    kind, der = pair
    assert kind.from_der(der).to_der() == der


@settings(max_examples=30)
@given(s.mutated_gbcs_messages())
def test_mutated_gbcs_messages_parse_or_raise_gbcs_format_error_and_get_a_verdict(data):
    with contextlib.suppress(GbcsFormatError):
        decode_frame(data)
    handler = ActivationHandler(s.gbcs_activation_config(), ActivationState(b"\x00\x00\x00\x01"))
    assert handler.handle(data, NOW).verdict is not None


@settings(max_examples=25)
@given(s.home_dicts())
def test_home_files_are_the_dicts_as_toml_and_load(tmp_path_factory, home):
    text = s.to_toml(home)
    assert tomllib.loads(text) == home
    path = tmp_path_factory.mktemp("home") / "home.toml"
    path.write_text(text)
    loaded = load_home(path)
    assert [d.name for d in loaded.devices] == [d["name"] for d in home["device"]]


@settings(max_examples=25)
@given(s.broken_home_files())
def test_broken_home_files_are_refused_with_home_file_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("home") / "home.toml"
    path.write_text(text)
    try:
        load_home(path)
    except HomeFileError:
        return
    raise AssertionError(f"a broken home file loaded:\n{text}")


@given(s.fault_schedules())
def test_fault_schedules_are_link_policies_and_power_cuts(schedule):
    link, cuts = schedule
    assert isinstance(link, LinkPolicy)
    for rate in (link.drop, link.duplicate, link.reorder, link.corrupt):
        assert 0.0 <= rate <= 0.5
    for cut in cuts:
        assert [cut.at_time, cut.after_flash_ops, cut.at_fraction].count(None) == 2
        assert cut.off_for_s >= 1.0


@given(s.misbehaviours())
@settings(max_examples=60, deadline=None)
def test_misbehaviours_are_client_policy_knobs_with_allowed_values(knobs):
    policy = ClientPolicy(**knobs)
    for name, value in knobs.items():
        assert getattr(policy, name) == value
    assert set(knobs) <= set(s.MISBEHAVIOUR_VALUES)
