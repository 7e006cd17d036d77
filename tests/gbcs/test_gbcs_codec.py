"""GBCS payload and frame codecs: RTDS vectors from shared/spec/gb-firmware.md §4.4–4.5,
round trips under hypothesis, and malformed input raising GbcsFormatError with an offset."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import FormatError, GbcsFormatError, HanemuError
from emulator.gbcs.der import encode_length
from emulator.gbcs.frame import Cra, Frame, GroupingHeader, decode_frame
from emulator.gbcs.messages import (
    ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL,
    ALERT_FUTURE_DATED_FAILURE,
    CANCELLATION_TIME,
    MSG_ACTIVATE_FIRMWARE,
    PAYLOAD_TYPES,
    ActivateFirmwareCommand,
    ActivateFirmwareResponse,
    ActivateImageResponseCode,
    ExecutionOutcome,
    FutureDatedActivationAlert,
    PpmidActivationAlert,
    ReadFirmwareVersionCommand,
    ReadFirmwareVersionResponse,
    ReceiptAlert,
    decode_payload,
)

UTC = dt.UTC

# --- RTDS vectors


def test_cs06_success_response_vector():
    raw = bytes.fromhex("30 09 02 01 00 04 04 0123ABCE")
    response = ActivateFirmwareResponse.from_der(raw)
    assert response.outcome == ExecutionOutcome(0, bytes.fromhex("0123ABCE"))
    assert response.to_der() == raw


def test_cs06_no_image_held_response_vector():
    raw = bytes.fromhex("30 09 02 01 01 04 04 0123ABCF")
    response = ActivateFirmwareResponse.from_der(raw)
    assert response.outcome is not None
    assert response.outcome.code == ActivateImageResponseCode.NO_IMAGE_HELD
    assert ActivateFirmwareResponse(ExecutionOutcome(1, bytes.fromhex("0123ABCF"))).to_der() == raw


def test_cs06_future_dated_response_is_null():
    assert ActivateFirmwareResponse.from_der(b"\x05\x00") == ActivateFirmwareResponse(None)
    assert ActivateFirmwareResponse(None).to_der() == b"\x05\x00"


def test_cs06_future_dated_command_carries_generalized_time():
    when = dt.datetime(2030, 11, 15, 9, 0, 0, tzinfo=UTC)
    raw = ActivateFirmwareCommand(bytes(32), 7, when).to_der()
    assert raw.endswith(bytes.fromhex("18 0F") + b"20301115090000Z")
    assert ActivateFirmwareCommand.from_der(raw).execution_time == when


def test_cancellation_time_encodes_as_9999():
    command = ActivateFirmwareCommand(bytes(32), 9, CANCELLATION_TIME)
    assert b"99991231235959Z" in command.to_der()
    assert ActivateFirmwareCommand.from_der(command.to_der()).is_cancellation


def test_gsme_receipt_alert_vector():
    raw = bytes.fromhex("0109 01 8F72 1C374A80 0920" + "A1" * 32)
    alert = ReceiptAlert.from_der(raw)
    assert alert.alert_code == ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL
    assert alert.time == dt.datetime(2015, 1, 1, tzinfo=UTC)  # 0x1C374A80 s after 2000
    assert alert.image_hash == b"\xa1" * 32
    assert alert.to_der() == raw


def test_cs08_response_vector_value():
    response = ReadFirmwareVersionResponse(bytes.fromhex("0123ABCD"))
    raw = response.to_der()
    assert raw == bytes.fromhex("30 09 04 04 0123ABCD 02 01 00")
    assert ReadFirmwareVersionResponse.from_der(raw) == response
    assert ReadFirmwareVersionCommand.from_der(b"\x05\x00") == ReadFirmwareVersionCommand()


def test_alert_codes_are_positive_integers():
    alert = FutureDatedActivationAlert(
        ALERT_FUTURE_DATED_FAILURE,
        dt.datetime(2030, 1, 1, tzinfo=UTC),
        3,
        ExecutionOutcome(ActivateImageResponseCode.HASH_MISMATCH, bytes.fromhex("0123ABCD")),
    )
    raw = alert.to_der()
    assert raw[2:7] == bytes.fromhex("02 03 00 8F 67")  # 0x8F67 needs a leading zero in DER
    assert FutureDatedActivationAlert.from_der(raw) == alert


# --- round trips

times = st.datetimes(
    min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)
).map(lambda t: t.replace(microsecond=0, tzinfo=UTC))
counters = st.integers(0, (1 << 64) - 1)
versions = st.binary(min_size=4, max_size=4)
outcomes = st.builds(ExecutionOutcome, st.integers(0, 255), st.binary(max_size=200))

payloads = st.one_of(
    st.builds(
        ActivateFirmwareCommand, st.binary(min_size=32, max_size=32), counters, st.none() | times
    ),
    st.builds(ActivateFirmwareResponse, st.none() | outcomes),
    st.builds(FutureDatedActivationAlert, st.integers(0, 0xFFFF), times, counters, outcomes),
    st.builds(
        ReceiptAlert,
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFFFFFF).map(
            lambda s: dt.datetime(2000, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=s)
        ),
        st.binary(min_size=32, max_size=32),
    ),
    st.just(ReadFirmwareVersionCommand()),
    st.builds(ReadFirmwareVersionResponse, st.binary(max_size=300), st.integers(0, 255)),
    st.builds(PpmidActivationAlert, times, versions, st.integers(0, 255), st.integers(0, 0xFFFF)),
)


@settings(max_examples=150)
@given(payloads)
def test_payloads_round_trip(payload):
    assert type(payload).from_der(payload.to_der()) == payload


@settings(max_examples=150)
@given(payloads, st.data())
def test_mutated_payload_is_error_or_canonical(payload, data):
    raw = bytearray(payload.to_der())
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] = data.draw(st.integers(0, 255))
    try:
        decoded = type(payload).from_der(bytes(raw))
    except GbcsFormatError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(raw)
    else:
        assert decoded.to_der() == bytes(raw)  # strict DER: one encoding per value


@settings(max_examples=150)
@given(payloads, st.data())
def test_truncated_payload_raises_with_offset(payload, data):
    raw = payload.to_der()
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(GbcsFormatError) as info:
        type(payload).from_der(raw[:cut], base=100)
    assert info.value.offset is not None and 100 <= info.value.offset <= 100 + len(raw)


entity_ids = st.binary(min_size=8, max_size=8)
headers = st.builds(
    GroupingHeader,
    cra=st.sampled_from(list(Cra)),
    counter=counters,
    originator=entity_ids,
    recipient=entity_ids,
    message_code=st.integers(0, 0xFFFF),
    date_time=st.none() | st.binary(min_size=12, max_size=12),
    other_info_extra=st.binary(max_size=200),
)
frames = st.builds(
    Frame,
    header=headers,
    payload=st.binary(max_size=400),
    signature=st.none() | st.binary(min_size=64, max_size=64),
    mac=st.none() | st.binary(min_size=12, max_size=12),
)


@settings(max_examples=200)
@given(frames)
def test_frames_round_trip(frame):
    raw = frame.encode()
    assert decode_frame(raw) == frame
    offset = frame.payload_offset()
    assert raw[offset : offset + len(frame.payload)] == frame.payload


@settings(max_examples=150)
@given(frames, st.data())
def test_truncated_frame_raises_with_offset(frame, data):
    raw = frame.encode()
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(GbcsFormatError) as info:
        decode_frame(raw[:cut])
    assert info.value.offset is not None and 0 <= info.value.offset <= len(raw)


@settings(max_examples=150)
@given(frames, st.data())
def test_mutated_frame_is_error_or_round_trips(frame, data):
    raw = bytearray(frame.encode())
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    try:
        decoded = decode_frame(bytes(raw))
    except GbcsFormatError as exc:
        assert exc.offset is not None
    else:
        assert decoded.encode() == bytes(raw)


# --- malformed input names field and offset


def _command_bytes() -> bytes:
    return ActivateFirmwareCommand(bytes(32), 5).to_der()


@pytest.mark.parametrize(
    ("raw", "field", "offset"),
    [
        (b"", "ActivateFirmwareCommand", 0),
        (bytes.fromhex("31 00"), "ActivateFirmwareCommand", 0),
        # hash of 31 octets
        (
            bytes.fromhex("30 24 04 1F") + bytes(31) + bytes.fromhex("02 01 05"),
            "manufacturerImageHash",
            4,
        ),
        # counter not minimal
        (
            bytes.fromhex("30 26 04 20") + bytes(32) + bytes.fromhex("02 02 00 05"),
            "originatorCounter",
            38,
        ),
        # negative counter
        (
            bytes.fromhex("30 25 04 20") + bytes(32) + bytes.fromhex("02 01 85"),
            "originatorCounter",
            38,
        ),
        # long-form length that fits the short form
        (bytes.fromhex("30 81 25"), "ActivateFirmwareCommand", 1),
        # trailing byte after the SEQUENCE
        (
            bytes.fromhex("30 25 04 20") + bytes(32) + bytes.fromhex("02 01 05 00"),
            "ActivateFirmwareCommand",
            39,
        ),
    ],
)
def test_malformed_command_names_field_and_offset(raw, field, offset):
    with pytest.raises(GbcsFormatError) as info:
        ActivateFirmwareCommand.from_der(raw)
    assert (info.value.field, info.value.offset) == (field, offset)
    assert isinstance(info.value, FormatError | HanemuError)
    assert f"offset {offset}" in str(info.value)


def test_bad_generalized_time_names_field():
    raw = bytearray(ActivateFirmwareCommand(bytes(32), 5, CANCELLATION_TIME).to_der())
    at = raw.index(b"9999")
    raw[at + 4 : at + 6] = b"13"  # month 13
    with pytest.raises(GbcsFormatError) as info:
        ActivateFirmwareCommand.from_der(bytes(raw))
    assert info.value.field == "executionDateTime"
    assert info.value.offset == at


def test_sanity_valid_command_decodes():
    assert ActivateFirmwareCommand.from_der(_command_bytes()).originator_counter == 5


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b"\xde" + b[1:], "tag"),
        (lambda b: b[:1] + b"\x08" + b[2:], "transaction_id_length"),
        (lambda b: b[:2] + b"\x07" + b[3:], "cra_flag"),
        (lambda b: b[:11] + b"\x07" + b[12:], "originator_length"),
        (lambda b: b[:29] + b"\x05" + b[30:], "date_time_length"),
        (lambda b: b[:30] + b"\x01" + b[31:], "other_info_length"),
        (lambda b: b[:-1] + b"\x20", "signature_length"),
        (lambda b: b + b"\x00", "trailer"),
    ],
)
def test_malformed_header_names_field(mutate, field):
    frame = Frame(
        GroupingHeader(Cra.COMMAND, 1, bytes(8), bytes(8), MSG_ACTIVATE_FIRMWARE), _command_bytes()
    )
    raw = frame.encode()
    with pytest.raises(GbcsFormatError) as info:
        decode_frame(mutate(raw))
    assert info.value.field == field
    assert info.value.offset is not None


def test_general_ciphering_length_mismatch():
    frame = Frame(
        GroupingHeader(Cra.COMMAND, 1, bytes(8), bytes(8), 0x12), b"\x05\x00", mac=bytes(12)
    )
    raw = frame.encode()
    with pytest.raises(GbcsFormatError) as info:
        decode_frame(raw[:-1])
    assert info.value.field == "ciphered_length"
    assert info.value.offset == 7


def test_der_lengths_use_long_form():
    assert encode_length(0x7F) == b"\x7f"
    assert encode_length(0x80) == b"\x81\x80"
    assert encode_length(0x1234) == b"\x82\x12\x34"


def test_decode_payload_dispatches_on_code_and_cra():
    assert isinstance(
        decode_payload(MSG_ACTIVATE_FIRMWARE, Cra.RESPONSE, b"\x05\x00"), ActivateFirmwareResponse
    )
    assert decode_payload(0x0001, Cra.COMMAND, b"\x05\x00") is None
    assert len(PAYLOAD_TYPES) == 7
