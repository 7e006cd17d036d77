"""GBCS payload and frame codecs: RTDS vectors from shared/spec/gb-firmware.md §4.4–4.5,
pre-commands, every message code of §4.2, round trips under hypothesis, and malformed input
raising GbcsFormatError with an offset."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import FormatError, GbcsFormatError, HanemuError
from emulator.gbcs.der import encode_length
from emulator.gbcs.frame import Cra, Frame, GroupingHeader, decode_frame
from emulator.gbcs.headend import TEST_ENTITY_IDS, HeadEnd, RemoteParty
from emulator.gbcs.messages import (
    ALERT_FIRMWARE_TRANSFER_SUCCESS,
    ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL,
    ALERT_FUTURE_DATED_FAILURE,
    CANCELLATION_TIME,
    MESSAGE_NAMES,
    MSG_ACTIVATE_FIRMWARE,
    MSG_FIRMWARE_TRANSFER_ALERT,
    MSG_READ_ESME_FIRMWARE_VERSION,
    MSG_READ_GSME_FIRMWARE_VERSION,
    MSG_RECEIPT_ALERT_DLMS,
    PAYLOAD_TYPES,
    ActivateFirmwareCommand,
    ActivateFirmwareResponse,
    ActivateImageResponseCode,
    DlmsReceiptAlert,
    ExecutionOutcome,
    FirmwareTransferAlert,
    FutureDatedActivationAlert,
    GsmeFirmwareVersionRead,
    GsmeFirmwareVersionReadResponse,
    PpmidActivationAlert,
    RawPayload,
    ReadFirmwareVersionCommand,
    ReadFirmwareVersionResponse,
    ReceiptAlert,
    TransferResponseCode,
    decode_payload,
)
from emulator.testpki import derive_key

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
    st.builds(
        FirmwareTransferAlert,
        st.integers(0, 0xFFFF),
        times,
        st.binary(min_size=8, max_size=8),
        st.binary(max_size=40),
        st.integers(0, 255),
    ),
    st.builds(
        DlmsReceiptAlert,
        st.integers(0, 0xFFFF),
        st.binary(min_size=12, max_size=12),
        st.binary(min_size=32, max_size=32),
        st.integers(0, 0xFFFFFFFF),
        st.none() | st.binary(min_size=12, max_size=12),
    ),
    st.builds(
        GsmeFirmwareVersionRead,
        st.lists(st.integers(0, 0xFFFF), max_size=5).map(tuple),
        st.integers(0, 0xFFFF),
        st.integers(0, 255),
        st.integers(0, 255).filter(lambda c: not c & 0x12),
    ),
    st.integers(0, 255).flatmap(
        lambda status: st.builds(
            GsmeFirmwareVersionReadResponse,
            st.binary(max_size=254) if status == 0 else st.none(),
            st.just(status),
            st.integers(0, 0xFFFF),
            st.integers(0, 0xFFFF),
            st.integers(0, 255),
            st.integers(0, 255).filter(lambda c: not c & 0x12),
        )
    ),
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
) | st.builds(
    Frame,
    header=headers.map(lambda h: replace(h, cra=Cra.COMMAND)),
    payload=st.binary(max_size=400),
    pre_command=st.just(True),
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
    payload_end = frame.payload_offset() + len(frame.payload)
    if cut == payload_end and frame.mac is None and frame.header.cra is Cra.COMMAND:
        # a command cut right after its payload is exactly its pre-command
        assert decode_frame(raw[:cut]) == frame.to_pre_command()
        return
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


# --- every message code of §4.2


def test_every_message_code_of_the_digest_has_a_name():
    # §4.2: CS05a/b/c have no message code of their own; every other row has one.
    codes = {0x0012, 0x00CA, 0x00CE, 0x00CF, 0x0059, 0x0084, 0x0129, 0x0128, 0x012B}
    assert codes <= set(MESSAGE_NAMES)
    assert {code for code, _ in PAYLOAD_TYPES} | {0x0059} >= codes
    assert MESSAGE_NAMES[0x0128] == "CCS08 Firmware Transfer Alert"
    assert MESSAGE_NAMES[0x00CE] == "Firmware Distribution Receipt Alert (DLMS)"
    assert MESSAGE_NAMES[0x0059] == "ECS52 Read ESME/CH Firmware Version"
    assert MESSAGE_NAMES[0x0084] == "GCS38 Read GSME Firmware Version"


def test_ccs08_transfer_alert_as_the_digest_describes_it():
    # §4.5: CHF reports entity 00DB1234567890A4 (a PPMID), fw 0123ABCD, success.
    raw = bytes.fromhex(
        "30 29 02 03 008F8A 18 0F" + b"20150101000000Z".hex()
        + "04 08 00DB1234567890A4 04 04 0123ABCD 02 01 00"
    )  # fmt: skip
    alert = decode_payload(MSG_FIRMWARE_TRANSFER_ALERT, Cra.ALERT, raw)
    assert alert == FirmwareTransferAlert(
        ALERT_FIRMWARE_TRANSFER_SUCCESS,
        dt.datetime(2015, 1, 1, tzinfo=UTC),
        bytes.fromhex("00DB1234567890A4"),
        bytes.fromhex("0123ABCD"),
        TransferResponseCode.SUCCESS,
    )
    assert alert.to_der() == raw


def test_ccs08_with_a_short_entity_id_is_an_error_naming_it():
    good_time = bytes.fromhex("18 0F") + b"20150101000000Z"
    raw = bytes.fromhex("30 1F 02 03 008F89") + good_time + bytes.fromhex("04 02 00DB 0400 020103")
    with pytest.raises(GbcsFormatError) as info:
        FirmwareTransferAlert.from_der(raw, base=10)
    assert (info.value.field, info.value.offset) == (
        "entityId",
        10 + 26,
    )  # its content, after 04 02


DLMS_TIME = bytes.fromhex("07DF0101FF000000008000FF")


def test_dlms_receipt_alert_is_a_data_notification_with_the_hash():
    # §4.5: alert code 8F72 plus 09 20 || calculated hash, in a DLMS Data-Notification.
    digest = hashlib.sha256(b"manufacturer image").digest()
    raw = bytes.fromhex("0F 200007D0 00 0203 12 8F72 090C") + DLMS_TIME + b"\x09\x20" + digest
    alert = decode_payload(MSG_RECEIPT_ALERT_DLMS, Cra.ALERT, raw)
    assert alert == DlmsReceiptAlert(0x8F72, DLMS_TIME, digest, 0x200007D0)
    assert alert.to_der() == raw


def test_a_dlms_receipt_alert_of_another_shape_is_shown_raw_with_why():
    raw = bytes.fromhex("0F 200007D0 00 0202 12 8F72 0920") + bytes(32)
    shown = decode_payload(MSG_RECEIPT_ALERT_DLMS, Cra.ALERT, raw, base=50)
    assert isinstance(shown, RawPayload) and shown.raw == raw
    assert "DlmsReceiptAlert" in shown.note and "field structure at offset 56" in shown.note


def test_gcs38_command_reads_metering_attribute_0206():
    # §4.2: GBZ read of ZCL cluster 0x0702 attribute 0x0206.
    raw = bytes.fromhex("0109 01 01 0702 0005 00 00 00 0602")
    command = decode_payload(MSG_READ_GSME_FIRMWARE_VERSION, Cra.COMMAND, raw)
    assert command == GsmeFirmwareVersionRead()
    assert command.to_der() == raw


def test_gcs38_response_carries_the_version_octet_string():
    raw = bytes.fromhex("0109 01 01 0702 000C 08 00 01 0602 00 41 04 0123ABCD")
    response = decode_payload(MSG_READ_GSME_FIRMWARE_VERSION, Cra.RESPONSE, raw)
    assert response == GsmeFirmwareVersionReadResponse(bytes.fromhex("0123ABCD"))
    assert response.to_der() == raw
    failed = bytes.fromhex("0109 01 01 0702 0006 08 00 01 0602 C0")
    assert GsmeFirmwareVersionReadResponse.from_der(failed) == GsmeFirmwareVersionReadResponse(
        None, 0xC0
    )


def test_gcs38_of_another_shape_is_shown_raw():
    encrypted = bytes.fromhex("0109 01 03 0702 0005 00 00 00 0602")
    shown = decode_payload(MSG_READ_GSME_FIRMWARE_VERSION, Cra.COMMAND, encrypted)
    assert isinstance(shown, RawPayload) and "field control at offset 3" in shown.note


@pytest.mark.parametrize("cra", [Cra.COMMAND, Cra.RESPONSE])
def test_ecs52_is_raw_with_a_note_that_the_digest_gives_no_structure(cra):
    raw = bytes.fromhex("D9 200003E8 00 01 01 0001 0000000201FF 02 01 00")
    shown = decode_payload(MSG_READ_ESME_FIRMWARE_VERSION, cra, raw)
    assert shown == RawPayload(raw, shown.note)
    assert "gives no structure" in shown.note and "DLMS" in shown.note


# --- pre-commands (§4.5: end right after the payload, no signature length, signature or MAC)

DEVICE_ID = bytes.fromhex("00DB1234567890A0")
IMAGE_HASH = hashlib.sha256(b"image").digest()


def _built_commands() -> dict[str, bytes]:
    """Every command hanemu's head-end builds, as it sends them (signed and/or MAC'd)."""
    headend = HeadEnd(derive_key("acb"))
    party = RemoteParty(TEST_ENTITY_IDS["supplier-a"], derive_key("supplier-a"))
    device = derive_key("dev-ka").public_key()
    later = dt.datetime(2030, 11, 15, 9, tzinfo=UTC)
    return {
        "cs06 immediate": headend.activate_firmware(party, DEVICE_ID, device, IMAGE_HASH),
        "cs06 future-dated": headend.activate_firmware(
            party, DEVICE_ID, device, IMAGE_HASH, execution_time=later
        ),
        "cs06 cancellation": headend.cancel_activation(party, DEVICE_ID, device, IMAGE_HASH),
        "cs06 non-critical": headend.activate_firmware(
            party, DEVICE_ID, device, IMAGE_HASH, critical=False
        ),
        "cs08": headend.read_firmware_version(party, DEVICE_ID, device),
        "gcs38": Frame(
            GroupingHeader(Cra.COMMAND, 7, party.entity_id, DEVICE_ID, 0x0084),
            GsmeFirmwareVersionRead().to_der(),
            mac=bytes(12),
        ).encode(),
        "ecs52": Frame(
            GroupingHeader(Cra.COMMAND, 8, party.entity_id, DEVICE_ID, 0x0059),
            bytes.fromhex("D9200003E800010100010000000201FF020100"),
            mac=bytes(12),
        ).encode(),
    }


@pytest.mark.parametrize("name", list(_built_commands()))
def test_pre_commands_of_every_message_type_decode(name):
    command = decode_frame(_built_commands()[name])
    pre = command.to_pre_command()
    raw = pre.encode()
    # the pre-command is the command's general-signing APDU up to the end of its payload
    assert raw == command.header_bytes() + command.payload
    decoded = decode_frame(raw)
    assert decoded == pre
    assert decoded.pre_command and decoded.signature is None and decoded.mac is None
    header = decoded.header
    base = decoded.payload_offset()
    assert decode_payload(header.message_code, header.cra, decoded.payload, base=base) == (
        decode_payload(header.message_code, header.cra, command.payload)
    )


def test_a_pre_command_written_out_from_the_digest_decodes():
    payload = ActivateFirmwareCommand(IMAGE_HASH, 1000).to_der()
    raw = b"".join(
        (
            bytes.fromhex("DF 09 01 00000000000003E8"),  # tag, transaction id: CRA 1, counter
            bytes.fromhex("08 90B3D51F30010000 08") + DEVICE_ID,
            bytes.fromhex("00 02 0012"),  # date-time absent, other-info: message code
            bytes((len(payload),)),
            payload,  # and nothing after it
        )
    )
    frame = decode_frame(raw)
    assert frame.pre_command and frame.header.counter == 1000
    assert ActivateFirmwareCommand.from_der(frame.payload).image_hash == IMAGE_HASH
    assert frame.encode() == raw


@pytest.mark.parametrize("cra", [Cra.RESPONSE, Cra.ALERT])
def test_only_a_command_can_be_a_pre_command(cra):
    frame = Frame(GroupingHeader(cra, 1, bytes(8), bytes(8), 0x0012), b"\x05\x00")
    with pytest.raises(GbcsFormatError) as info:
        frame.to_pre_command().encode()
    assert info.value.field == "pre_command"
    cut = frame.encode()[:-1]  # a response or alert that stops after its payload is truncated
    with pytest.raises(GbcsFormatError) as info:
        decode_frame(cut)
    assert (info.value.field, info.value.offset) == ("signature_length", len(cut))
    assert "cannot be a pre-command" in info.value.what


def test_a_pre_command_carries_no_signature_or_mac():
    header = GroupingHeader(Cra.COMMAND, 1, bytes(8), bytes(8), 0x0012)
    for extra in ({"signature": bytes(64)}, {"mac": bytes(12)}):
        with pytest.raises(GbcsFormatError) as info:
            Frame(header, b"\x05\x00", pre_command=True, **extra).encode()
        assert info.value.field == "pre_command"


def test_a_macd_command_without_a_signature_length_is_truncated():
    """Inside general ciphering the signature length is always present: no pre-command there."""
    signing = Frame(GroupingHeader(Cra.COMMAND, 1, bytes(8), bytes(8), 0x0129), b"\x05\x00")
    inner = signing.header_bytes() + signing.payload  # no signature length
    body = bytes.fromhex("1100000000") + inner + bytes(12)
    raw = bytes.fromhex("DD000000000000") + encode_length(len(body)) + body
    with pytest.raises(GbcsFormatError) as info:
        decode_frame(raw)
    assert info.value.field == "signature_length"
    assert info.value.offset == 8 + 5 + len(inner)
