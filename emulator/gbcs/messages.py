"""GBCS firmware payloads: every message code of shared/spec/gb-firmware.md §4.2.

CS06 and its future-dated alert, the receipt alerts (GBZ and DLMS forms), CS08, CS09, the CCS08
Firmware Transfer Alert, the ECS52 / GCS38 firmware-version reads, and the data-less device
alerts a device raises under 0x1000 (8F43 on a change of executing firmware, 8F3D on a command
that fails authentication; the message code and form are hanemu's reading, see `DeviceAlert`).
Each payload is a frozen
dataclass with `to_der()` and `from_der()` (the name is kept for the GBZ and DLMS forms, which are
not DER), built on one declaration where the payload is DER (§4.4–4.5). `decode_payload` picks the
decoder from the message code and CRA flag, for tools that show any message.

Where the digest describes a payload only in part (the DLMS receipt alert, the GCS38 GBZ read)
the decoder takes the one shape the digest and the RTDS vectors show, and a payload of another
shape comes back as a `RawPayload` saying why; where it gives no structure at all (ECS52, a DLMS
GET) the payload is always a `RawPayload` with a note. This module owns payload bytes and the
codes that name them; it never checks signatures, keeps state or reads the clock.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any, Literal

from emulator.errors import GbcsFormatError
from emulator.gbcs.der import NULL, Field, Kind, Sequence, decode_null
from emulator.gbcs.frame import COUNTER_MAX, Cra

# Message codes (§4.2).
MSG_ACTIVATE_FIRMWARE = 0x0012  # CS06, SME.C.C
MSG_READ_ESME_FIRMWARE_VERSION = 0x0059  # ECS52, SME.C.NC (DLMS)
MSG_READ_GSME_FIRMWARE_VERSION = 0x0084  # GCS38, SME.C.NC (GBZ)
MSG_FUTURE_DATED_ACTIVATION_ALERT = 0x00CA
MSG_RECEIPT_ALERT_DLMS = 0x00CE  # Firmware Distribution Receipt Alert, DLMS form (ESME)
MSG_RECEIPT_ALERT_GBZ = 0x00CF  # Firmware Distribution Receipt Alert, GBZ form (GSME)
MSG_FIRMWARE_TRANSFER_ALERT = 0x0128  # CCS08, CH -> DCC
MSG_READ_FIRMWARE_VERSION = 0x0129  # CS08, SME.C.NC
MSG_PPMID_ACTIVATION_ALERT = 0x012B  # CS09, SME.A.C
MSG_GENERIC_CRITICAL_ALERT = 0x1000  # a device alert with no message of its own

# Alert codes (§4.4–4.5).
ALERT_FUTURE_DATED_SUCCESS = 0x8F66
ALERT_FUTURE_DATED_FAILURE = 0x8F67
ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL = 0x8F72
ALERT_FIRMWARE_VERIFICATION_FAILED = 0x8F1C
ALERT_PPMID_FIRMWARE_ACTIVATED = 0x8F8B
ALERT_FIRMWARE_TRANSFER_SUCCESS = 0x8F8A
ALERT_FIRMWARE_TRANSFER_FAILURE = 0x8F89
ALERT_TRUSTED_SOURCE_AUTHENTICATION_FAILURE = 0x8F3D
ALERT_FIRMWARE_VERSION_CHANGED = 0x8F43  # Change in the executing Firmware version

MESSAGE_NAMES = {
    MSG_ACTIVATE_FIRMWARE: "CS06 Activate Firmware",
    MSG_READ_ESME_FIRMWARE_VERSION: "ECS52 Read ESME/CH Firmware Version",
    MSG_READ_GSME_FIRMWARE_VERSION: "GCS38 Read GSME Firmware Version",
    MSG_FUTURE_DATED_ACTIVATION_ALERT: "Future Dated Firmware Activation Alert",
    MSG_RECEIPT_ALERT_DLMS: "Firmware Distribution Receipt Alert (DLMS)",
    MSG_RECEIPT_ALERT_GBZ: "Firmware Distribution Receipt Alert (GBZ)",
    MSG_FIRMWARE_TRANSFER_ALERT: "CCS08 Firmware Transfer Alert",
    MSG_READ_FIRMWARE_VERSION: "CS08 Read PPMID/HCALCS Firmware Version",
    MSG_PPMID_ACTIVATION_ALERT: "CS09 PPMID Firmware Activation Alert",
    MSG_GENERIC_CRITICAL_ALERT: "Generic Critical Alert",
}

CANCELLATION_TIME = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
"""executionDateTime that cancels a pending future-dated activation."""

HASH_LENGTH = 32
GBZ_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
GBZ_PROFILE = b"\x01\x09"
DLMS_DATE_TIME_LENGTH = 12
ENTITY_ID_LENGTH = 8

# GCS38 reads the GSME firmware version: ZCL cluster Metering (0x0702), attribute 0x0206 (§4.2).
CLUSTER_METERING = 0x0702
ATTRIBUTE_FIRMWARE_VERSION = 0x0206


class ActivateImageResponseCode(enum.IntEnum):
    SUCCESS = 0
    NO_IMAGE_HELD = 1
    HASH_MISMATCH = 2
    ACTIVATION_FAILURE = 3


class ReadResponseCode(enum.IntEnum):
    READ_SUCCESS = 0
    READ_FAILURE = 1


class ActivationResult(enum.IntEnum):
    SUCCESS = 0
    FAILURE = 1


class TransferResponseCode(enum.IntEnum):
    """CCS08 responseCode (§4.5)."""

    SUCCESS = 0
    IMAGE_DISCARDED = 1
    HARDWARE_VERSION_MISMATCH = 2
    FILE_TRANSFER_FAILURE = 3


_OUTCOME = Sequence(
    "ExecutionOutcome",
    (
        Field("activateImageResponseCode", Kind.INTEGER, maximum=0xFF),
        Field("firmwareVersion", Kind.OCTET_STRING),
    ),
)
_ACTIVATE_COMMAND = Sequence(
    "ActivateFirmwareCommand",
    (
        Field("manufacturerImageHash", Kind.OCTET_STRING, size=HASH_LENGTH),
        Field("originatorCounter", Kind.INTEGER, maximum=COUNTER_MAX),
        Field("executionDateTime", Kind.GENERALIZED_TIME, optional=True),
    ),
)
_FUTURE_DATED_ALERT = Sequence(
    "FutureDatedActivationAlert",
    (
        Field("alertCode", Kind.INTEGER, maximum=0xFFFF),
        Field("executionDateTime", Kind.GENERALIZED_TIME),
        Field("originatorCounter", Kind.INTEGER, maximum=COUNTER_MAX),
        Field("executionOutcome", Kind.SEQUENCE, inner=_OUTCOME),
    ),
)
_READ_VERSION_RESPONSE = Sequence(
    "ReadFirmwareVersionResponse",
    (
        Field("firmwareVersion", Kind.OCTET_STRING),
        Field("responseCode", Kind.INTEGER, maximum=0xFF),
    ),
)
_PPMID_ACTIVATION_ALERT = Sequence(
    "PpmidFirmwareActivationAlert",
    (
        Field("alertCode", Kind.INTEGER, maximum=0xFFFF),
        Field("executionDateTime", Kind.GENERALIZED_TIME),
        Field("firmwareVersion", Kind.OCTET_STRING, size=4),
        Field("activateImageResult", Kind.INTEGER, maximum=0xFF),
    ),
)
_FIRMWARE_TRANSFER_ALERT = Sequence(
    "FirmwareTransferAlert",
    (
        Field("alertCode", Kind.INTEGER, maximum=0xFFFF),
        Field("executionDateTime", Kind.GENERALIZED_TIME),
        Field("entityId", Kind.OCTET_STRING, size=ENTITY_ID_LENGTH),
        Field("firmwareVersion", Kind.OCTET_STRING),
        Field("responseCode", Kind.INTEGER, maximum=0xFF),
    ),
)


@dataclass(frozen=True, slots=True)
class ExecutionOutcome:
    """activateImageResponseCode and the firmware version running afterwards."""

    code: int
    firmware_version: bytes

    def _values(self) -> dict[str, Any]:
        return {"activateImageResponseCode": self.code, "firmwareVersion": self.firmware_version}

    @classmethod
    def _from(cls, values: dict[str, Any]) -> ExecutionOutcome:
        return cls(values["activateImageResponseCode"], values["firmwareVersion"])


@dataclass(frozen=True, slots=True)
class ActivateFirmwareCommand:
    """CS06 command payload. `execution_time` None = immediate; CANCELLATION_TIME cancels."""

    image_hash: bytes
    originator_counter: int
    execution_time: dt.datetime | None = None

    @property
    def is_cancellation(self) -> bool:
        return self.execution_time == CANCELLATION_TIME

    def to_der(self) -> bytes:
        return _ACTIVATE_COMMAND.encode(
            {
                "manufacturerImageHash": self.image_hash,
                "originatorCounter": self.originator_counter,
                "executionDateTime": self.execution_time,
            }
        )

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> ActivateFirmwareCommand:
        v = _ACTIVATE_COMMAND.decode(data, base=base)
        return cls(v["manufacturerImageHash"], v["originatorCounter"], v["executionDateTime"])


@dataclass(frozen=True, slots=True)
class ActivateFirmwareResponse:
    """CS06 response payload: NULL (future-dated, accepted) or an execution outcome."""

    outcome: ExecutionOutcome | None

    def to_der(self) -> bytes:
        return NULL if self.outcome is None else _OUTCOME.encode(self.outcome._values())

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> ActivateFirmwareResponse:
        if data[:1] == NULL[:1]:
            decode_null(data, field="ActivateFirmwareResponse", base=base)
            return cls(None)
        return cls(ExecutionOutcome._from(_OUTCOME.decode(data, base=base)))


@dataclass(frozen=True, slots=True)
class FutureDatedActivationAlert:
    """Alert 0x00CA raised when a future-dated activation is executed (8F66 / 8F67)."""

    alert_code: int
    execution_time: dt.datetime
    originator_counter: int
    outcome: ExecutionOutcome

    def to_der(self) -> bytes:
        return _FUTURE_DATED_ALERT.encode(
            {
                "alertCode": self.alert_code,
                "executionDateTime": self.execution_time,
                "originatorCounter": self.originator_counter,
                "executionOutcome": self.outcome._values(),
            }
        )

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> FutureDatedActivationAlert:
        v = _FUTURE_DATED_ALERT.decode(data, base=base)
        return cls(
            v["alertCode"],
            v["executionDateTime"],
            v["originatorCounter"],
            ExecutionOutcome._from(v["executionOutcome"]),
        )


@dataclass(frozen=True, slots=True)
class ReceiptAlert:
    """Firmware Distribution Receipt Alert, GBZ form (0x00CF):
    `01 09 | 01 | alert code (2) | UTC seconds since 2000 (4) | 09 20 | calculated hash (32)`."""

    alert_code: int
    time: dt.datetime
    image_hash: bytes

    def to_der(self) -> bytes:
        if len(self.image_hash) != HASH_LENGTH:
            raise GbcsFormatError("hash must be 32 octets", field="hash")
        return (
            _gbz_alert_header(self.alert_code, self.time, components=1)
            + bytes((0x09, HASH_LENGTH))
            + self.image_hash
        )

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> ReceiptAlert:
        tail = bytes((0x09, HASH_LENGTH))
        code, time = _gbz_alert_fields(data, base, "ReceiptAlert", components=1, extra=tail)
        return cls(code, time, bytes(data[-HASH_LENGTH:]))


@dataclass(frozen=True, slots=True)
class DeviceAlert:
    """A GBZ device alert with no components, sent under 0x1000 Generic Critical Alert:
    `01 09 | 00 | alert code (2) | UTC seconds since 2000 (4)`. 0x8F43 (Change in the executing
    Firmware version) and 0x8F3D (Trusted Source Authentication Failure) travel this way."""

    alert_code: int
    time: dt.datetime

    def to_der(self) -> bytes:
        return _gbz_alert_header(self.alert_code, self.time, components=0)

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> DeviceAlert:
        return cls(*_gbz_alert_fields(data, base, "DeviceAlert", components=0))


_GBZ_ALERT_HEADER_LENGTH = 2 + 1 + 2 + 4


def _gbz_alert_header(alert_code: int, time: dt.datetime, *, components: int) -> bytes:
    """`01 09 | component count | alert code (2) | UTC seconds since 2000 (4)`."""
    seconds = int((time - GBZ_EPOCH).total_seconds())
    if not 0 <= seconds <= 0xFFFFFFFF:
        raise GbcsFormatError("time outside the GBZ range", field="time")
    if not 0 <= alert_code <= 0xFFFF:
        raise GbcsFormatError("alert code must fit 2 octets", field="alert_code")
    return b"".join(
        (
            GBZ_PROFILE,
            bytes((components,)),
            alert_code.to_bytes(2, "big"),
            seconds.to_bytes(4, "big"),
        )
    )


def _gbz_alert_fields(
    data: bytes, base: int, name: str, *, components: int, extra: bytes = b""
) -> tuple[int, dt.datetime]:
    """(alert code, time) of a GBZ alert header with `components`, followed by `extra` and,
    when `extra` is given, a 32-octet hash; every other octet is checked."""
    expected = _GBZ_ALERT_HEADER_LENGTH + (len(extra) + HASH_LENGTH if extra else 0)
    if len(data) != expected:
        raise GbcsFormatError(
            f"{name} must be {expected} octets, got {len(data)}",
            field=name,
            offset=base + min(len(data), expected),
        )
    for field, at, value in (
        ("profile", 0, GBZ_PROFILE),
        ("components", 2, bytes((components,))),
        ("hash_tag", _GBZ_ALERT_HEADER_LENGTH, extra),
    ):
        if data[at : at + len(value)] != value:
            raise GbcsFormatError(f"expected {value.hex().upper()}", field=field, offset=base + at)
    seconds = int.from_bytes(data[5:9], "big")
    return int.from_bytes(data[3:5], "big"), GBZ_EPOCH + dt.timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class ReadFirmwareVersionCommand:
    """CS08 command payload: NULL."""

    def to_der(self) -> bytes:
        return NULL

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> ReadFirmwareVersionCommand:
        decode_null(data, field="ReadFirmwareVersionCommand", base=base)
        return cls()


@dataclass(frozen=True, slots=True)
class ReadFirmwareVersionResponse:
    """CS08 response payload."""

    firmware_version: bytes
    response_code: int = ReadResponseCode.READ_SUCCESS

    def to_der(self) -> bytes:
        return _READ_VERSION_RESPONSE.encode(
            {"firmwareVersion": self.firmware_version, "responseCode": self.response_code}
        )

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> ReadFirmwareVersionResponse:
        v = _READ_VERSION_RESPONSE.decode(data, base=base)
        return cls(v["firmwareVersion"], v["responseCode"])


@dataclass(frozen=True, slots=True)
class PpmidActivationAlert:
    """CS09 PPMID Firmware Activation Alert (0x012B, alert code 8F8B)."""

    execution_time: dt.datetime
    firmware_version: bytes
    result: int
    alert_code: int = ALERT_PPMID_FIRMWARE_ACTIVATED

    def to_der(self) -> bytes:
        return _PPMID_ACTIVATION_ALERT.encode(
            {
                "alertCode": self.alert_code,
                "executionDateTime": self.execution_time,
                "firmwareVersion": self.firmware_version,
                "activateImageResult": self.result,
            }
        )

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> PpmidActivationAlert:
        v = _PPMID_ACTIVATION_ALERT.decode(data, base=base)
        return cls(
            v["executionDateTime"], v["firmwareVersion"], v["activateImageResult"], v["alertCode"]
        )


@dataclass(frozen=True, slots=True)
class FirmwareTransferAlert:
    """CCS08 Firmware Transfer Alert (0x0128, CH -> DCC): 8F8A success / 8F89 failure, the
    device (`entity_id`) the image was for, its firmware version and a `TransferResponseCode`."""

    alert_code: int
    execution_time: dt.datetime
    entity_id: bytes
    firmware_version: bytes
    response_code: int

    def to_der(self) -> bytes:
        return _FIRMWARE_TRANSFER_ALERT.encode(
            {
                "alertCode": self.alert_code,
                "executionDateTime": self.execution_time,
                "entityId": self.entity_id,
                "firmwareVersion": self.firmware_version,
                "responseCode": self.response_code,
            }
        )

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> FirmwareTransferAlert:
        v = _FIRMWARE_TRANSFER_ALERT.decode(data, base=base)
        return cls(
            v["alertCode"],
            v["executionDateTime"],
            v["entityId"],
            v["firmwareVersion"],
            v["responseCode"],
        )


class _Reader:
    """A cursor over a non-DER payload that names the field and offset of what it cannot read."""

    def __init__(self, data: bytes, base: int) -> None:
        self.data = data
        self.base = base
        self.pos = 0

    def take(self, count: int, field: str) -> bytes:
        if self.pos + count > len(self.data):
            raise GbcsFormatError(
                f"truncated: {count} octet(s) needed", field=field, offset=self.base + self.pos
            )
        out = self.data[self.pos : self.pos + count]
        self.pos += count
        return bytes(out)

    def number(self, count: int, field: str, order: Literal["big", "little"] = "big") -> int:
        return int.from_bytes(self.take(count, field), order)

    def expect(self, value: bytes, field: str) -> None:
        at = self.pos
        got = self.take(len(value), field)
        if got != value:
            raise GbcsFormatError(
                f"expected {value.hex().upper()}, found {got.hex().upper()}",
                field=field,
                offset=self.base + at,
            )

    def end(self, owner: str) -> None:
        if self.pos != len(self.data):
            raise GbcsFormatError(
                f"{len(self.data) - self.pos} byte(s) after the {owner}",
                field=owner,
                offset=self.base + self.pos,
            )


DLMS_DATA_NOTIFICATION = 0x0F
_DLMS_STRUCTURE = 0x02
_DLMS_LONG_UNSIGNED = 0x12
_DLMS_OCTET_STRING = 0x09


@dataclass(frozen=True, slots=True)
class DlmsReceiptAlert:
    """Firmware Distribution Receipt Alert, DLMS form (0x00CE, ESME): a DLMS Data-Notification

        0F | long-invoke-id-and-priority (4) | date-time (00 = absent, or 0C + 12 octets)
           | 02 03 | 12 alert code (2) | 09 0C alert date-time (12) | 09 20 calculated hash (32)

    The digest gives the alert code (8F72 / 8F1C) and `09 20 || hash` (§4.5); the notification
    around them is the shape of the RTDS FDRA-DLMS vector. `time` and `notification_time` are
    DLMS date-times, kept as their 12 octets."""

    alert_code: int
    time: bytes
    image_hash: bytes
    invoke_id_and_priority: int = 0
    notification_time: bytes | None = None

    def to_der(self) -> bytes:
        if not 0 <= self.invoke_id_and_priority <= 0xFFFFFFFF:
            raise GbcsFormatError(
                "invoke id and priority must fit 4 octets", field="invoke_id_and_priority"
            )
        if not 0 <= self.alert_code <= 0xFFFF:
            raise GbcsFormatError("alert code must fit 2 octets", field="alert_code")
        for name, value in (("time", self.time), ("notification_time", self.notification_time)):
            if value is not None and len(value) != DLMS_DATE_TIME_LENGTH:
                raise GbcsFormatError("a DLMS date-time is 12 octets", field=name)
        if len(self.image_hash) != HASH_LENGTH:
            raise GbcsFormatError("hash must be 32 octets", field="hash")
        stamp = (
            b"\x00"
            if self.notification_time is None
            else bytes((DLMS_DATE_TIME_LENGTH,)) + self.notification_time
        )
        return b"".join(
            (
                bytes((DLMS_DATA_NOTIFICATION,)),
                self.invoke_id_and_priority.to_bytes(4, "big"),
                stamp,
                bytes((_DLMS_STRUCTURE, 3, _DLMS_LONG_UNSIGNED)),
                self.alert_code.to_bytes(2, "big"),
                bytes((_DLMS_OCTET_STRING, DLMS_DATE_TIME_LENGTH)),
                self.time,
                bytes((_DLMS_OCTET_STRING, HASH_LENGTH)),
                self.image_hash,
            )
        )

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> DlmsReceiptAlert:
        r = _Reader(data, base)
        r.expect(bytes((DLMS_DATA_NOTIFICATION,)), "data_notification")
        invoke = r.number(4, "invoke_id_and_priority")
        at = r.pos
        stamp_length = r.take(1, "notification_time_length")[0]
        if stamp_length not in (0, DLMS_DATE_TIME_LENGTH):
            raise GbcsFormatError(
                f"date-time length must be 0 or 12, got {stamp_length}",
                field="notification_time_length",
                offset=base + at,
            )
        stamp = r.take(stamp_length, "notification_time") if stamp_length else None
        r.expect(bytes((_DLMS_STRUCTURE, 3)), "structure")
        r.expect(bytes((_DLMS_LONG_UNSIGNED,)), "alert_code_type")
        code = r.number(2, "alert_code")
        r.expect(bytes((_DLMS_OCTET_STRING, DLMS_DATE_TIME_LENGTH)), "time_type")
        time = r.take(DLMS_DATE_TIME_LENGTH, "time")
        r.expect(bytes((_DLMS_OCTET_STRING, HASH_LENGTH)), "hash_type")
        image_hash = r.take(HASH_LENGTH, "hash")
        r.end("DlmsReceiptAlert")
        return cls(code, time, image_hash, invoke, stamp)


_ZCL_READ_ATTRIBUTES = 0x00
_ZCL_READ_ATTRIBUTES_RESPONSE = 0x01
_ZCL_CLIENT_TO_SERVER = 0x00
_ZCL_SERVER_TO_CLIENT = 0x08
_ZCL_OCTET_STRING = 0x41
_GBZ_PLAIN_CONTROL_BITS = 0x12  # encrypted (0x02), from-date-time (0x10): other layouts


def _gbz_encode(control: int, cluster: int, zcl: bytes) -> bytes:
    """One-component GBZ payload: profile, count 1, control, cluster, length, ZCL frame."""
    if not 0 <= control <= 0xFF or control & _GBZ_PLAIN_CONTROL_BITS:
        raise GbcsFormatError(f"unsupported GBZ control field 0x{control:02X}", field="control")
    if not 0 <= cluster <= 0xFFFF:
        raise GbcsFormatError("cluster must fit 2 octets", field="cluster")
    return b"".join(
        (
            GBZ_PROFILE,
            b"\x01",
            bytes((control,)),
            cluster.to_bytes(2, "big"),
            len(zcl).to_bytes(2, "big"),
            zcl,
        )
    )


def _gbz_decode(data: bytes, base: int, command: int, direction: int) -> tuple[int, int, _Reader]:
    """(control, cluster, reader at the ZCL payload) of a one-component GBZ payload whose ZCL
    frame is the profile-wide `command` sent in `direction`."""
    r = _Reader(data, base)
    r.expect(GBZ_PROFILE, "profile")
    r.expect(b"\x01", "components")
    at = r.pos
    control = r.take(1, "control")[0]
    if control & _GBZ_PLAIN_CONTROL_BITS:
        raise GbcsFormatError(
            f"GBZ control field 0x{control:02X}: an encrypted or time-stamped component",
            field="control",
            offset=base + at,
        )
    cluster = r.number(2, "cluster")
    at = r.pos
    length = r.number(2, "length")
    if r.pos + length != len(data):
        raise GbcsFormatError(
            f"component length {length} does not match the {len(data) - r.pos} byte(s) present",
            field="length",
            offset=base + at,
        )
    r.expect(bytes((direction,)), "frame_control")
    return control, cluster, r


@dataclass(frozen=True, slots=True)
class GsmeFirmwareVersionRead:
    """GCS38 Read GSME Firmware Version command (0x0084): a GBZ payload holding one ZCL Read
    Attributes of cluster 0x0702 (Metering), attribute 0x0206 (§4.2):
    `01 09 | 01 | control | cluster (2) | length (2) | 00 | sequence | 00 | attribute ids (LE)`."""

    attributes: tuple[int, ...] = (ATTRIBUTE_FIRMWARE_VERSION,)
    cluster: int = CLUSTER_METERING
    sequence: int = 0
    control: int = 0x01

    def to_der(self) -> bytes:
        if not 0 <= self.sequence <= 0xFF:
            raise GbcsFormatError("sequence must fit 1 octet", field="sequence")
        if any(not 0 <= a <= 0xFFFF for a in self.attributes):
            raise GbcsFormatError("attribute ids must fit 2 octets", field="attributes")
        zcl = bytes((_ZCL_CLIENT_TO_SERVER, self.sequence, _ZCL_READ_ATTRIBUTES)) + b"".join(
            a.to_bytes(2, "little") for a in self.attributes
        )
        return _gbz_encode(self.control, self.cluster, zcl)

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> GsmeFirmwareVersionRead:
        control, cluster, r = _gbz_decode(data, base, _ZCL_READ_ATTRIBUTES, _ZCL_CLIENT_TO_SERVER)
        sequence = r.take(1, "sequence")[0]
        r.expect(bytes((_ZCL_READ_ATTRIBUTES,)), "zcl_command")
        if (len(data) - r.pos) % 2:
            raise GbcsFormatError(
                "attribute ids are 2 octets each", field="attributes", offset=base + r.pos
            )
        count = (len(data) - r.pos) // 2
        attributes = tuple(r.number(2, "attributes", "little") for _ in range(count))
        return cls(attributes, cluster, sequence, control)


@dataclass(frozen=True, slots=True)
class GsmeFirmwareVersionReadResponse:
    """GCS38 response (0x0084): a GBZ payload holding one ZCL Read Attributes Response record:
    attribute id (LE), status, and on success the octet string (type 0x41) of the version,
    `0123ABCD` in the RTDS vector. `firmware_version` is None when `status` is not 0."""

    firmware_version: bytes | None
    status: int = 0
    attribute: int = ATTRIBUTE_FIRMWARE_VERSION
    cluster: int = CLUSTER_METERING
    sequence: int = 0
    control: int = 0x01

    def to_der(self) -> bytes:
        if not 0 <= self.status <= 0xFF or not 0 <= self.sequence <= 0xFF:
            raise GbcsFormatError("status and sequence must fit 1 octet", field="status")
        if not 0 <= self.attribute <= 0xFFFF:
            raise GbcsFormatError("attribute id must fit 2 octets", field="attribute")
        if (self.status == 0) != (self.firmware_version is not None):
            raise GbcsFormatError(
                "a firmware version comes with status 0 and only then", field="firmware_version"
            )
        zcl = bytes((_ZCL_SERVER_TO_CLIENT, self.sequence, _ZCL_READ_ATTRIBUTES_RESPONSE))
        zcl += self.attribute.to_bytes(2, "little") + bytes((self.status,))
        if self.firmware_version is not None:
            if len(self.firmware_version) > 0xFE:
                raise GbcsFormatError("version longer than 254 octets", field="firmware_version")
            zcl += bytes((_ZCL_OCTET_STRING, len(self.firmware_version))) + self.firmware_version
        return _gbz_encode(self.control, self.cluster, zcl)

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> GsmeFirmwareVersionReadResponse:
        control, cluster, r = _gbz_decode(
            data, base, _ZCL_READ_ATTRIBUTES_RESPONSE, _ZCL_SERVER_TO_CLIENT
        )
        sequence = r.take(1, "sequence")[0]
        r.expect(bytes((_ZCL_READ_ATTRIBUTES_RESPONSE,)), "zcl_command")
        attribute = r.number(2, "attribute", "little")
        status = r.take(1, "status")[0]
        version = None
        if status == 0:
            r.expect(bytes((_ZCL_OCTET_STRING,)), "data_type")
            at = r.pos
            length = r.take(1, "firmware_version_length")[0]
            if length == 0xFF:
                raise GbcsFormatError(
                    "invalid octet string (length 0xFF)",
                    field="firmware_version_length",
                    offset=base + at,
                )
            version = r.take(length, "firmware_version")
        r.end("GsmeFirmwareVersionReadResponse")
        return cls(version, status, attribute, cluster, sequence, control)


@dataclass(frozen=True, slots=True)
class RawPayload:
    """A payload shown as its bytes, with a `note` saying why: the digest gives no structure
    for it (ECS52's DLMS GET), or it does not have the one shape decoded here."""

    raw: bytes
    note: str

    def to_der(self) -> bytes:
        return self.raw


_NO_STRUCTURE = (
    "{what}: the spec digest gives no structure for it (gb-firmware.md §4.2), so it is shown raw"
)
OPAQUE_PAYLOADS: dict[tuple[int, Cra], str] = {
    (MSG_READ_ESME_FIRMWARE_VERSION, Cra.COMMAND): _NO_STRUCTURE.format(
        what="ECS52 command, a DLMS GET access-request"
    ),
    (MSG_READ_ESME_FIRMWARE_VERSION, Cra.RESPONSE): _NO_STRUCTURE.format(
        what="ECS52 response, a DLMS access-response"
    ),
}
"""Message code and CRA pairs whose payload is known but not described: always `RawPayload`."""


Payload = (
    ActivateFirmwareCommand
    | ActivateFirmwareResponse
    | FutureDatedActivationAlert
    | ReceiptAlert
    | ReadFirmwareVersionCommand
    | ReadFirmwareVersionResponse
    | PpmidActivationAlert
    | FirmwareTransferAlert
    | DlmsReceiptAlert
    | GsmeFirmwareVersionRead
    | GsmeFirmwareVersionReadResponse
    | DeviceAlert
    | RawPayload
)

PAYLOAD_TYPES: dict[tuple[int, Cra], type] = {
    (MSG_ACTIVATE_FIRMWARE, Cra.COMMAND): ActivateFirmwareCommand,
    (MSG_ACTIVATE_FIRMWARE, Cra.RESPONSE): ActivateFirmwareResponse,
    (MSG_FUTURE_DATED_ACTIVATION_ALERT, Cra.ALERT): FutureDatedActivationAlert,
    (MSG_RECEIPT_ALERT_GBZ, Cra.ALERT): ReceiptAlert,
    (MSG_READ_FIRMWARE_VERSION, Cra.COMMAND): ReadFirmwareVersionCommand,
    (MSG_READ_FIRMWARE_VERSION, Cra.RESPONSE): ReadFirmwareVersionResponse,
    (MSG_PPMID_ACTIVATION_ALERT, Cra.ALERT): PpmidActivationAlert,
    (MSG_FIRMWARE_TRANSFER_ALERT, Cra.ALERT): FirmwareTransferAlert,
    (MSG_RECEIPT_ALERT_DLMS, Cra.ALERT): DlmsReceiptAlert,
    (MSG_READ_GSME_FIRMWARE_VERSION, Cra.COMMAND): GsmeFirmwareVersionRead,
    (MSG_READ_GSME_FIRMWARE_VERSION, Cra.RESPONSE): GsmeFirmwareVersionReadResponse,
    (MSG_GENERIC_CRITICAL_ALERT, Cra.ALERT): DeviceAlert,
}
PARTLY_DESCRIBED = frozenset(
    {DlmsReceiptAlert, GsmeFirmwareVersionRead, GsmeFirmwareVersionReadResponse, DeviceAlert}
)
"""Payload types the digest describes only in part: another shape is a `RawPayload`, not an
error, since it may well be a valid message this decoder does not know."""


def decode_payload(message_code: int, cra: Cra, payload: bytes, *, base: int = 0) -> Payload | None:
    """The typed payload for a message code and CRA flag; None when the pair is not one of ours.

    A payload of a fully described kind that does not decode raises `GbcsFormatError`; one the
    digest describes in part or not at all comes back as a `RawPayload` with a note."""
    pair = (message_code, cra)
    if pair in OPAQUE_PAYLOADS:
        return RawPayload(bytes(payload), OPAQUE_PAYLOADS[pair])
    kind = PAYLOAD_TYPES.get(pair)
    if kind is None:
        return None
    if kind not in PARTLY_DESCRIBED:
        return kind.from_der(payload, base=base)
    try:
        return kind.from_der(payload, base=base)
    except GbcsFormatError as exc:
        return RawPayload(bytes(payload), f"not the {kind.__name__} shape decoded here: {exc}")
