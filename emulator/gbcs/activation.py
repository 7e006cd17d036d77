"""The device side of GBCS firmware activation, as a sans-IO handler.

`ActivationHandler` holds a device's activation configuration (activation class, supplier
certificate slots, key-agreement key) and its persisted `ActivationState` (running version,
stored Manufacturer Image, originator counters, pending future-dated activation). It takes
events (an incoming GBCS command, time passing, an image stored, the Comms Hub's instruction) plus
`now`, and returns an `Outcome`: the response and alerts to send, whether firmware was switched,
the new state to persist, and one line saying what was accepted or refused and why.

The activation classes are `ActivationClass` members (values: the profile spellings), and what
each allows is data (`ACTIVATION_RULES`), not branches on device type.
Processing order follows GBCS §11.5 as digested in shared/spec/gb-firmware.md §4.4: MAC and
signature, then the originator counter, then the hash (noImageHeld = 1, hashMismatch = 2).

What the device sends is built as the DCC's test messages show real devices build it (§4.5):
the response to a Critical command (CS06) carries a header date-time and the device's signature;
the response to a Non-Critical one (CS08) carries a MAC and echoes the command's other-information;
receipt, future-dated and device alerts go to the supplier, signed; only CS09 goes to the ACB.
A command that fails authentication raises alert 0x8F3D, and every firmware switch raises 0x8F43.

This module must never do I/O, read a clock or keep keys anywhere but in its configuration.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives.asymmetric import ec

from emulator.errors import GbcsFormatError, PolicyError
from emulator.gbcs.frame import Cra, Frame, GroupingHeader, decode_frame
from emulator.gbcs.messages import (
    ALERT_FIRMWARE_VERIFICATION_FAILED,
    ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL,
    ALERT_FIRMWARE_VERSION_CHANGED,
    ALERT_FUTURE_DATED_FAILURE,
    ALERT_FUTURE_DATED_SUCCESS,
    ALERT_TRUSTED_SOURCE_AUTHENTICATION_FAILURE,
    MSG_ACTIVATE_FIRMWARE,
    MSG_FUTURE_DATED_ACTIVATION_ALERT,
    MSG_GENERIC_CRITICAL_ALERT,
    MSG_PPMID_ACTIVATION_ALERT,
    MSG_READ_FIRMWARE_VERSION,
    MSG_RECEIPT_ALERT_GBZ,
    ActivateFirmwareCommand,
    ActivateFirmwareResponse,
    ActivateImageResponseCode,
    ActivationResult,
    DeviceAlert,
    ExecutionOutcome,
    FutureDatedActivationAlert,
    PpmidActivationAlert,
    ReadFirmwareVersionCommand,
    ReadFirmwareVersionResponse,
    ReceiptAlert,
    decode_payload,
)
from emulator.gbcs.security import (
    apply_mac,
    derive_mac_key,
    sign_frame,
    verify_mac,
    verify_signature,
)

CRITICAL_COMMANDS = frozenset({MSG_ACTIVATE_FIRMWARE})
"""Message codes of the SME.C.C commands handled here: their responses are dated and signed."""


def dlms_date_time(when: dt.datetime) -> bytes:
    """The 12-octet DLMS date-time of a grouping header, in the form of the DCC's test responses
    (`07DF0101FF000000008000FF`): day of week, hundredths, deviation and clock status left
    "not specified" (FF, 00, 8000, FF)."""
    when = when.astimezone(dt.UTC)
    return b"".join(
        (
            when.year.to_bytes(2, "big"),
            bytes((when.month, when.day, 0xFF, when.hour, when.minute, when.second, 0)),
            b"\x80\x00\xff",
        )
    )


@dataclass(frozen=True, slots=True)
class ActivationRule:
    """What an activation class lets a device do."""

    accepts_cs06: bool
    """A supplier's CS06 Activate Firmware may switch the firmware."""
    signature_required: bool
    """CS06 must carry a KRP signature by a supplier in one of the device's slots (SME.C.C)."""
    ch_activates: bool
    """The Comms Hub's instruction over the HAN switches the firmware (SECMP0007, SR 11.4)."""
    description: str
    display_message_activates: bool = False
    """A Display Message naming the stored image's hash switches the firmware (no GBCS
    security at all: paper IHD option 2)."""

    @property
    def out_of_band(self) -> bool:
        """Something other than the OTA server's Upgrade End Response switches the firmware."""
        return self.accepts_cs06 or self.ch_activates or self.display_message_activates


class ActivationClass(enum.StrEnum):
    """Who may activate a device's firmware, and how it knows the command is genuine."""

    CRITICAL = "critical"
    NON_CRITICAL = "non-critical"
    CH_MANAGED = "ch-managed"
    DISPLAY_MESSAGE = "display-message"
    LOCAL_ONLY = "local-only"


ACTIVATION_RULES: dict[ActivationClass, ActivationRule] = {
    ActivationClass.CRITICAL: ActivationRule(
        True, True, False, "Critical CS06: supplier signature (slot) + MAC, then hash"
    ),
    ActivationClass.NON_CRITICAL: ActivationRule(
        True, False, False, "Non-Critical CS06: MAC only, then hash"
    ),
    ActivationClass.CH_MANAGED: ActivationRule(
        False, False, True, "the Comms Hub activates; the device raises CS09"
    ),
    ActivationClass.DISPLAY_MESSAGE: ActivationRule(
        False,
        False,
        False,
        "activated by a Display Message via the ESME (paper IHD option 2)",
        display_message_activates=True,
    ),
    ActivationClass.LOCAL_ONLY: ActivationRule(
        False, False, False, "activated locally only (site visit, Wi-Fi)"
    ),
}
ACTIVATION_CLASSES = tuple(c.value for c in ActivationClass)


class Verdict(enum.Enum):
    """Why a command was accepted or refused (one value per reason, for logs and tests)."""

    ACCEPTED = "accepted"
    MALFORMED = "malformed"
    NOT_ADDRESSED_TO_DEVICE = "not-addressed-to-device"
    NOT_A_COMMAND = "not-a-command"
    UNSUPPORTED_MESSAGE = "unsupported-message"
    MAC_MISSING = "mac-missing"
    MAC_INVALID = "mac-invalid"
    CLASS_REFUSES_CS06 = "activation-class-refuses-cs06"
    SIGNATURE_REQUIRED = "signature-required"
    SUPPLIER_NOT_IN_SLOT = "supplier-not-in-slot"
    SIGNATURE_INVALID = "signature-invalid"
    REPLAYED_COUNTER = "replayed-counter"
    COUNTER_MISMATCH = "counter-mismatch"
    CLASS_REFUSES_CH_ACTIVATION = "activation-class-refuses-ch-activation"
    NOT_LEAD_SUPPLIER = "not-lead-supplier"
    CLASS_REFUSES_DISPLAY_MESSAGE = "activation-class-refuses-display-message"


@dataclass(frozen=True, slots=True)
class SupplierSlot:
    """One supplier certificate held by the device: the supplier's entity id and public key."""

    entity_id: bytes
    public_key: ec.EllipticCurvePublicKey
    name: str = ""


@dataclass(frozen=True, slots=True)
class ActivationConfig:
    """Everything fixed about a device's activation security (from its profile and keys)."""

    device_id: bytes
    activation: ActivationClass
    """A member, or its spelling (kept as the member)."""
    ka_key: ec.EllipticCurvePrivateKey
    """The device's key-agreement private key (MAC key derivation)."""
    acb_ka_public: ec.EllipticCurvePublicKey
    """The DCC Access Control Broker's key-agreement public key (MACs on commands)."""
    acb_id: bytes
    """The DCC Access Control Broker: it sends CS08, and receives its response and CS09."""
    supplier_id: bytes
    """The supplier responsible for the device: recipient of its receipt and device alerts."""
    slots: tuple[SupplierSlot, ...] = ()
    slot_capacity: int = 0
    signing_key: ec.EllipticCurvePrivateKey | None = None
    """The device's own digital-signing key; alerts are signed with it when present."""
    lead_supplier: bytes | None = None
    """On a device two suppliers share: the only supplier whose activation it accepts (the
    options paper's governance); None: any supplier that passes the security checks."""

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATION_CLASSES:
            raise PolicyError(
                f"activation class must be one of {', '.join(ACTIVATION_CLASSES)}, "
                f"got {self.activation!r}"
            )
        object.__setattr__(self, "activation", ActivationClass(self.activation))
        if len(self.slots) > self.slot_capacity:
            raise PolicyError(
                f"{len(self.slots)} supplier certificate(s) given, the device has "
                f"{self.slot_capacity} slot(s)"
            )

    @property
    def rule(self) -> ActivationRule:
        return ACTIVATION_RULES[self.activation]


@dataclass(frozen=True, slots=True)
class PendingActivation:
    """A recorded future-dated CS06 (GBCS step 2)."""

    image_hash: bytes
    originator_counter: int
    execution_time: dt.datetime
    originator: bytes
    """Who sent the CS06: the future-dated alert goes back to them."""


@dataclass(frozen=True, slots=True)
class ActivationState:
    """What the device persists across events and power cycles."""

    running_version: bytes
    stored_image: bytes | None = None
    """The stored (downloaded, not yet activated) Manufacturer Image, or None."""
    stored_version: bytes | None = None
    counters: tuple[tuple[bytes, int], ...] = ()
    """Highest originator counter accepted, per originator id."""
    pending: PendingActivation | None = None
    alert_counter: int = 1
    """Next originator counter for the device's own alerts."""

    def last_counter(self, originator: bytes) -> int | None:
        return dict(self.counters).get(originator)

    def with_counter(self, originator: bytes, counter: int) -> ActivationState:
        table = dict(self.counters)
        table[originator] = counter
        return replace(self, counters=tuple(sorted(table.items())))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one event produced."""

    verdict: Verdict
    detail: str
    state: ActivationState
    response: bytes | None = None
    alerts: tuple[bytes, ...] = ()
    activated_version: bytes | None = None
    """The version now running, when this event switched the firmware."""
    message_code: int | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPTED

    @property
    def alert_codes(self) -> tuple[int, ...]:
        """The alert code of each alert, in the order sent (read back from the alerts' bytes)."""
        codes = []
        for alert in self.alerts:
            frame = decode_frame(alert)
            body = decode_payload(frame.header.message_code, frame.header.cra, frame.payload)
            codes.append(body.alert_code)  # type: ignore[union-attr]
        return tuple(codes)


@dataclass(slots=True)
class ActivationHandler:
    """The device's GBCS activation logic: feed it events, read `Outcome`s, persist `state`."""

    config: ActivationConfig
    state: ActivationState
    _log: list[Outcome] = field(default_factory=list, repr=False)

    # -- events -------------------------------------------------------------------------------

    def handle(self, message: bytes, now: dt.datetime) -> Outcome:
        """An incoming GBCS command."""
        try:
            frame = decode_frame(message)
        except GbcsFormatError as exc:
            return self._refuse(Verdict.MALFORMED, str(exc))
        header = frame.header
        if header.recipient != self.config.device_id:
            return self._refuse(
                Verdict.NOT_ADDRESSED_TO_DEVICE, f"recipient {header.recipient.hex().upper()}"
            )
        if header.cra is not Cra.COMMAND:
            return self._refuse(Verdict.NOT_A_COMMAND, f"CRA flag {header.cra.name}", header)
        if header.message_code == MSG_ACTIVATE_FIRMWARE:
            return self._activate_firmware(frame, now)
        if header.message_code == MSG_READ_FIRMWARE_VERSION:
            return self._read_firmware_version(frame, now)
        return self._refuse(
            Verdict.UNSUPPORTED_MESSAGE, f"message code 0x{header.message_code:04X}", header
        )

    def next_due(self) -> dt.datetime | None:
        """When `tick` next has work (the pending activation's time), for arming a timer."""
        return None if self.state.pending is None else self.state.pending.execution_time

    def tick(self, now: dt.datetime) -> Outcome | None:
        """Time passed: execute a due future-dated activation and raise alert 0x00CA."""
        pending = self.state.pending
        if pending is None or pending.execution_time > now:
            return None
        self.state = replace(self.state, pending=None)
        outcome, activated = self._execute(pending.image_hash)
        code = ALERT_FUTURE_DATED_SUCCESS if activated else ALERT_FUTURE_DATED_FAILURE
        alert = FutureDatedActivationAlert(
            code, pending.execution_time, pending.originator_counter, outcome
        )
        sent = self._alert(MSG_FUTURE_DATED_ACTIVATION_ALERT, alert.to_der(), pending.originator)
        return self._record(
            Outcome(
                Verdict.ACCEPTED,
                f"future-dated activation executed: {ActivateImageResponseCode(outcome.code).name}"
                f", alert 0x{code:04X}",
                self.state,
                alerts=(sent, *self._version_changed(activated, now)),
                activated_version=self.state.running_version if activated else None,
                message_code=MSG_FUTURE_DATED_ACTIVATION_ALERT,
            )
        )

    def image_stored(
        self, manufacturer_image: bytes, version: bytes, *, verified: bool, now: dt.datetime
    ) -> Outcome:
        """A downloaded image was checked: store it (if good) and raise the receipt alert.

        The alert carries SHA-256 of the Manufacturer Image: 0x8F72 when `verified`, 0x8F1C
        when not (the image is then not kept).
        """
        image_hash = hashlib.sha256(manufacturer_image).digest()
        if verified:
            self.state = replace(
                self.state, stored_image=manufacturer_image, stored_version=version
            )
            code = ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL
        else:
            code = ALERT_FIRMWARE_VERIFICATION_FAILED
        sent = self._alert(
            MSG_RECEIPT_ALERT_GBZ,
            ReceiptAlert(code, now, image_hash).to_der(),
            self.config.supplier_id,
        )
        return self._record(
            Outcome(
                Verdict.ACCEPTED,
                f"image {'stored' if verified else 'rejected'}, receipt alert 0x{code:04X} "
                f"hash {image_hash.hex().upper()}",
                self.state,
                alerts=(sent,),
                message_code=MSG_RECEIPT_ALERT_GBZ,
            )
        )

    def ch_activate(self, now: dt.datetime) -> Outcome:
        """The Comms Hub instructs activation (SR 11.4); the device raises CS09 with the result."""
        if not self.config.rule.ch_activates:
            return self._refuse(
                Verdict.CLASS_REFUSES_CH_ACTIVATION, f"activation class {self.config.activation}"
            )
        # The Comms Hub names no hash: the device activates the image it holds, if any.
        image = self.state.stored_image
        outcome, activated = self._execute(
            None if image is None else hashlib.sha256(image).digest()
        )
        result = ActivationResult.SUCCESS if activated else ActivationResult.FAILURE
        alert = PpmidActivationAlert(now, self.state.running_version, result)
        sent = self._alert(MSG_PPMID_ACTIVATION_ALERT, alert.to_der(), self.config.acb_id)
        return self._record(
            Outcome(
                Verdict.ACCEPTED,
                f"Comms Hub activation: {ActivateImageResponseCode(outcome.code).name}, CS09 "
                f"result {result.name}",
                self.state,
                alerts=(sent, *self._version_changed(activated, now)),
                activated_version=self.state.running_version if activated else None,
                message_code=MSG_PPMID_ACTIVATION_ALERT,
            )
        )

    def display_message_activate(self, image_hash: bytes, now: dt.datetime) -> Outcome:
        """A Display Message asked to activate the image with SHA-256 `image_hash` (paper IHD
        option 2). Only the display-message class acts on it, and nothing authenticates it:
        whoever sent the text, a matching hash switches the firmware."""
        if not self.config.rule.display_message_activates:
            return self._refuse(
                Verdict.CLASS_REFUSES_DISPLAY_MESSAGE,
                f"activation class {self.config.activation}: a Display Message is only shown",
            )
        outcome, activated = self._execute(image_hash)
        return self._record(
            Outcome(
                Verdict.ACCEPTED,
                f"Display Message activation: {ActivateImageResponseCode(outcome.code).name}",
                self.state,
                alerts=self._version_changed(activated, now),
                activated_version=self.state.running_version if activated else None,
            )
        )

    @property
    def log(self) -> tuple[Outcome, ...]:
        """Every outcome so far, in order: what the device accepted and refused, and why."""
        return tuple(self._log)

    # -- commands -----------------------------------------------------------------------------

    def _activate_firmware(self, frame: Frame, now: dt.datetime) -> Outcome:
        header = frame.header
        rule = self.config.rule
        if not rule.accepts_cs06:
            return self._refuse(
                Verdict.CLASS_REFUSES_CS06, f"activation class {self.config.activation}", header
            )
        refusal = self._authenticate(frame, now, require_signature=rule.signature_required)
        if refusal is not None:
            return refusal
        lead = self.config.lead_supplier
        if lead is not None and header.originator != lead:
            name = next((s.name for s in self.config.slots if s.entity_id == lead), "")
            return self._refuse(
                Verdict.NOT_LEAD_SUPPLIER,
                f"only the lead supplier {name or lead.hex().upper()} may activate this device "
                f"(originator {header.originator.hex().upper()})",
                header,
            )
        try:
            command = ActivateFirmwareCommand.from_der(frame.payload, base=frame.payload_offset())
        except GbcsFormatError as exc:
            return self._refuse(Verdict.MALFORMED, str(exc), header)
        if command.originator_counter != header.counter:
            return self._refuse(
                Verdict.COUNTER_MISMATCH,
                f"payload counter {command.originator_counter} != header {header.counter}",
                header,
            )
        self.state = self.state.with_counter(header.originator, header.counter)

        when = command.execution_time
        if command.is_cancellation:
            had = self.state.pending is not None
            self.state = replace(self.state, pending=None)
            return self._accept(
                frame,
                ActivateFirmwareResponse(None),
                "pending activation cancelled" if had else "cancellation: nothing pending",
                now,
            )
        if when is not None and when > now:
            pending = PendingActivation(command.image_hash, header.counter, when, header.originator)
            self.state = replace(self.state, pending=pending)
            return self._accept(
                frame,
                ActivateFirmwareResponse(None),
                f"activation recorded for {when.isoformat()}",
                now,
            )
        outcome, activated = self._execute(command.image_hash)
        return self._accept(
            frame,
            ActivateFirmwareResponse(outcome),
            f"immediate activation: {ActivateImageResponseCode(outcome.code).name}",
            now,
            activated=activated,
        )

    def _read_firmware_version(self, frame: Frame, now: dt.datetime) -> Outcome:
        refusal = self._authenticate(frame, now, require_signature=False)
        if refusal is not None:
            return refusal
        try:
            ReadFirmwareVersionCommand.from_der(frame.payload, base=frame.payload_offset())
        except GbcsFormatError as exc:
            return self._refuse(Verdict.MALFORMED, str(exc), frame.header)
        self.state = self.state.with_counter(frame.header.originator, frame.header.counter)
        return self._accept(
            frame,
            ReadFirmwareVersionResponse(self.state.running_version),
            f"firmware version {self.state.running_version.hex().upper()} read",
            now,
        )

    # -- steps ----------------------------------------------------------------------------------

    def _authenticate(
        self, frame: Frame, now: dt.datetime, *, require_signature: bool
    ) -> Outcome | None:
        """Command Authenticity and Integrity Verification; None when the command passes.

        A command that fails it is refused and raises alert 0x8F3D (Trusted Source
        Authentication Failure); a replayed counter is refused without one."""
        failure = self._authentication_failure(frame, require_signature=require_signature)
        if failure is not None:
            verdict, detail = failure
            alert = DeviceAlert(ALERT_TRUSTED_SOURCE_AUTHENTICATION_FAILURE, now)
            sent = self._alert(MSG_GENERIC_CRITICAL_ALERT, alert.to_der(), self.config.supplier_id)
            return self._refuse(verdict, detail, frame.header, alerts=(sent,))
        header = frame.header
        last = self.state.last_counter(header.originator)
        if last is not None and header.counter <= last:
            return self._refuse(
                Verdict.REPLAYED_COUNTER,
                f"counter {header.counter} not above {last}",
                header,
            )
        return None

    def _authentication_failure(
        self, frame: Frame, *, require_signature: bool
    ) -> tuple[Verdict, str] | None:
        header = frame.header
        if frame.mac is None:
            return Verdict.MAC_MISSING, "no MAC on the command"
        key = derive_mac_key(self.config.ka_key, self.config.acb_ka_public, header)
        if not verify_mac(frame, key):
            return Verdict.MAC_INVALID, "MAC does not verify"
        if not require_signature:
            return None
        if frame.signature is None:
            return (
                Verdict.SIGNATURE_REQUIRED,
                f"Non-Critical command to a {self.config.activation} device",
            )
        slot = next((s for s in self.config.slots if s.entity_id == header.originator), None)
        if slot is None:
            return (
                Verdict.SUPPLIER_NOT_IN_SLOT,
                f"originator {header.originator.hex().upper()} holds no certificate slot",
            )
        if not verify_signature(frame, slot.public_key):
            return (
                Verdict.SIGNATURE_INVALID,
                f"signature does not verify with {slot.name or 'the slot'} certificate",
            )
        return None

    def _execute(self, image_hash: bytes | None) -> tuple[ExecutionOutcome, bool]:
        """GBCS steps 3–4 and the switch: (outcome, whether the firmware was switched)."""
        image = self.state.stored_image
        if image is None or image_hash is None:
            code = ActivateImageResponseCode.NO_IMAGE_HELD
        elif hashlib.sha256(image).digest() != image_hash:
            code = ActivateImageResponseCode.HASH_MISMATCH
        else:
            code = ActivateImageResponseCode.SUCCESS
            assert self.state.stored_version is not None
            self.state = replace(
                self.state,
                running_version=self.state.stored_version,
                stored_image=None,
                stored_version=None,
            )
        return ExecutionOutcome(int(code), self.state.running_version), (
            code is ActivateImageResponseCode.SUCCESS
        )

    # -- building replies ----------------------------------------------------------------------

    def _accept(
        self,
        command: Frame,
        payload: ActivateFirmwareResponse | ReadFirmwareVersionResponse,
        detail: str,
        now: dt.datetime,
        *,
        activated: bool = False,
    ) -> Outcome:
        """The response to an accepted command, built as its GBCS form requires (§4.5).

        To a Critical command: the device's date-time in the header and its signature. To a
        Non-Critical one: the command's other-information echoed (the supplementary remote
        party) and a MAC under the key the device shares with the command's originator."""
        code = command.header.message_code
        critical = code in CRITICAL_COMMANDS
        header = GroupingHeader(
            cra=Cra.RESPONSE,
            counter=command.header.counter,
            originator=self.config.device_id,
            recipient=command.header.originator,
            message_code=code,
            date_time=dlms_date_time(now) if critical else None,
            other_info_extra=b"" if critical else command.header.other_info_extra,
        )
        frame = Frame(header, payload.to_der())
        if critical:
            frame = self._sign(frame)
        else:
            frame = apply_mac(
                frame, derive_mac_key(self.config.ka_key, self.config.acb_ka_public, header)
            )
        return self._record(
            Outcome(
                Verdict.ACCEPTED,
                detail,
                self.state,
                response=frame.encode(),
                alerts=self._version_changed(activated, now),
                activated_version=self.state.running_version if activated else None,
                message_code=code,
            )
        )

    def _version_changed(self, activated: bool, now: dt.datetime) -> tuple[bytes, ...]:
        """Alert 0x8F43 (Change in the executing Firmware version) when firmware was switched."""
        if not activated:
            return ()
        alert = DeviceAlert(ALERT_FIRMWARE_VERSION_CHANGED, now)
        return (self._alert(MSG_GENERIC_CRITICAL_ALERT, alert.to_der(), self.config.supplier_id),)

    def _alert(self, message_code: int, payload: bytes, recipient: bytes) -> bytes:
        """An alert frame from the device, signed (its time is in the payload; the header
        date-time is absent, as in the DCC's test alerts)."""
        header = GroupingHeader(
            cra=Cra.ALERT,
            counter=self.state.alert_counter,
            originator=self.config.device_id,
            recipient=recipient,
            message_code=message_code,
        )
        self.state = replace(self.state, alert_counter=self.state.alert_counter + 1)
        return self._sign(Frame(header, payload)).encode()

    def _sign(self, frame: Frame) -> Frame:
        key = self.config.signing_key
        return frame if key is None else sign_frame(frame, key)

    def _refuse(
        self,
        verdict: Verdict,
        detail: str,
        header: GroupingHeader | None = None,
        *,
        alerts: tuple[bytes, ...] = (),
    ) -> Outcome:
        return self._record(
            Outcome(
                verdict,
                detail,
                self.state,
                alerts=alerts,
                message_code=None if header is None else header.message_code,
            )
        )

    def _record(self, outcome: Outcome) -> Outcome:
        self._log.append(outcome)
        return outcome
