"""GBCS firmware payloads: CS06, its future-dated alert, receipt alerts, CS08 and CS09.

Each payload is a frozen dataclass with `to_der()` (or `to_bytes()`) and `from_der()` built on one
declarative schema (shared/spec/gb-firmware.md §4.4–4.5). `decode_payload` picks the decoder from
the message code and CRA flag, for tools that show any message. This module owns payload bytes
and the codes that name them; it never checks signatures, keeps state or reads the clock.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from emulator.errors import GbcsFormatError
from emulator.gbcs.der import NULL, Field, Kind, Sequence, decode_null
from emulator.gbcs.frame import COUNTER_MAX, Cra

# Message codes (§4.2).
MSG_ACTIVATE_FIRMWARE = 0x0012  # CS06, SME.C.C
MSG_FUTURE_DATED_ACTIVATION_ALERT = 0x00CA
MSG_RECEIPT_ALERT_GBZ = 0x00CF  # Firmware Distribution Receipt Alert, GBZ form
MSG_READ_FIRMWARE_VERSION = 0x0129  # CS08, SME.C.NC
MSG_PPMID_ACTIVATION_ALERT = 0x012B  # CS09, SME.A.C

# Alert codes (§4.4–4.5).
ALERT_FUTURE_DATED_SUCCESS = 0x8F66
ALERT_FUTURE_DATED_FAILURE = 0x8F67
ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL = 0x8F72
ALERT_FIRMWARE_VERIFICATION_FAILED = 0x8F1C
ALERT_PPMID_FIRMWARE_ACTIVATED = 0x8F8B

MESSAGE_NAMES = {
    MSG_ACTIVATE_FIRMWARE: "CS06 Activate Firmware",
    MSG_FUTURE_DATED_ACTIVATION_ALERT: "Future Dated Firmware Activation Alert",
    MSG_RECEIPT_ALERT_GBZ: "Firmware Distribution Receipt Alert (GBZ)",
    MSG_READ_FIRMWARE_VERSION: "CS08 Read PPMID/HCALCS Firmware Version",
    MSG_PPMID_ACTIVATION_ALERT: "CS09 PPMID Firmware Activation Alert",
}

CANCELLATION_TIME = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
"""executionDateTime that cancels a pending future-dated activation."""

HASH_LENGTH = 32
GBZ_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
GBZ_PROFILE = b"\x01\x09"


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
        seconds = int((self.time - GBZ_EPOCH).total_seconds())
        if not 0 <= seconds <= 0xFFFFFFFF:
            raise GbcsFormatError("time outside the GBZ range", field="time")
        if not 0 <= self.alert_code <= 0xFFFF:
            raise GbcsFormatError("alert code must fit 2 octets", field="alert_code")
        if len(self.image_hash) != HASH_LENGTH:
            raise GbcsFormatError("hash must be 32 octets", field="hash")
        return b"".join(
            (
                GBZ_PROFILE,
                b"\x01",
                self.alert_code.to_bytes(2, "big"),
                seconds.to_bytes(4, "big"),
                bytes((0x09, HASH_LENGTH)),
                self.image_hash,
            )
        )

    @classmethod
    def from_der(cls, data: bytes, *, base: int = 0) -> ReceiptAlert:
        expected = 2 + 1 + 2 + 4 + 2 + HASH_LENGTH
        if len(data) != expected:
            raise GbcsFormatError(
                f"receipt alert must be {expected} octets, got {len(data)}",
                field="ReceiptAlert",
                offset=base + min(len(data), expected),
            )
        for field, at, value in (
            ("profile", 0, GBZ_PROFILE),
            ("components", 2, b"\x01"),
            ("hash_tag", 9, bytes((0x09, HASH_LENGTH))),
        ):
            if data[at : at + len(value)] != value:
                raise GbcsFormatError(
                    f"expected {value.hex().upper()}", field=field, offset=base + at
                )
        seconds = int.from_bytes(data[5:9], "big")
        return cls(
            int.from_bytes(data[3:5], "big"),
            GBZ_EPOCH + dt.timedelta(seconds=seconds),
            bytes(data[11:]),
        )


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


Payload = (
    ActivateFirmwareCommand
    | ActivateFirmwareResponse
    | FutureDatedActivationAlert
    | ReceiptAlert
    | ReadFirmwareVersionCommand
    | ReadFirmwareVersionResponse
    | PpmidActivationAlert
)

PAYLOAD_TYPES: dict[tuple[int, Cra], type] = {
    (MSG_ACTIVATE_FIRMWARE, Cra.COMMAND): ActivateFirmwareCommand,
    (MSG_ACTIVATE_FIRMWARE, Cra.RESPONSE): ActivateFirmwareResponse,
    (MSG_FUTURE_DATED_ACTIVATION_ALERT, Cra.ALERT): FutureDatedActivationAlert,
    (MSG_RECEIPT_ALERT_GBZ, Cra.ALERT): ReceiptAlert,
    (MSG_READ_FIRMWARE_VERSION, Cra.COMMAND): ReadFirmwareVersionCommand,
    (MSG_READ_FIRMWARE_VERSION, Cra.RESPONSE): ReadFirmwareVersionResponse,
    (MSG_PPMID_ACTIVATION_ALERT, Cra.ALERT): PpmidActivationAlert,
}


def decode_payload(message_code: int, cra: Cra, payload: bytes, *, base: int = 0) -> Payload | None:
    """The typed payload for a message code and CRA flag; None when the pair is not one of ours."""
    kind = PAYLOAD_TYPES.get((message_code, cra))
    return None if kind is None else kind.from_der(payload, base=base)
