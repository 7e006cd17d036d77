"""The supplier / DCC head-end side of GBCS firmware commands: build, sign and MAC them.

A `RemoteParty` (a supplier, or the rogue party of negative tests) originates commands; the DCC
Access Control Broker (ACB) applies the MAC with its key-agreement key. CS08 is the ACB's own
command, naming the supplier as supplementary remote party (id and counter) in other-information,
as the DCC's test messages show (shared/spec/gb-firmware.md §4.5). `HeadEnd` keeps each
originator's counter strictly increasing, as a real head-end must. The keys come from the
throw-away test PKI (`emulator.testpki`, `scripts/make-keys`), never from a real keystore.

This module owns turning intent ("activate this hash on that device at that time") into bytes;
it never reads files or the clock and never decides whether a device accepts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from emulator.errors import GbcsFormatError
from emulator.gbcs.frame import ENTITY_ID_LENGTH, Cra, Frame, GroupingHeader
from emulator.gbcs.messages import (
    CANCELLATION_TIME,
    MSG_ACTIVATE_FIRMWARE,
    MSG_READ_FIRMWARE_VERSION,
    ActivateFirmwareCommand,
    ReadFirmwareVersionCommand,
)
from emulator.gbcs.security import apply_mac, derive_mac_key, sign_frame

# Entity ids of the test PKI's parties (names match `scripts/make-keys`). The ACB id is the one
# the RTDS vectors use as the recipient of PPMID alerts.
TEST_ENTITY_IDS: dict[str, bytes] = {
    "supplier-a": bytes.fromhex("90B3D51F30010000"),
    "supplier-b": bytes.fromhex("90B3D51F30020000"),
    "rogue": bytes.fromhex("90B3D51F30FF0000"),
    "acb": bytes.fromhex("90B3D51F30000002"),
}


@dataclass(frozen=True, slots=True)
class RemoteParty:
    """An originator of commands: entity id and (for Critical commands) its signing key."""

    entity_id: bytes
    signing_key: ec.EllipticCurvePrivateKey | None = None

    def __post_init__(self) -> None:
        if len(self.entity_id) != ENTITY_ID_LENGTH:
            raise GbcsFormatError("entity id must be 8 octets", field="entity_id")


@dataclass(slots=True)
class HeadEnd:
    """Builds commands for devices; MACs them with the ACB's key-agreement key.

    `next_counter` holds the next originator counter per originator id; `first_counter` seeds
    originators not seen yet. Pass `counter=` to a builder to force one (e.g. a replay).
    """

    acb_ka_key: ec.EllipticCurvePrivateKey
    acb_id: bytes = TEST_ENTITY_IDS["acb"]
    first_counter: int = 1
    next_counter: dict[bytes, int] = field(default_factory=dict)

    def activate_firmware(
        self,
        party: RemoteParty,
        device_id: bytes,
        device_ka_public: ec.EllipticCurvePublicKey,
        image_hash: bytes,
        *,
        execution_time: dt.datetime | None = None,
        critical: bool = True,
        counter: int | None = None,
    ) -> bytes:
        """A CS06 Activate Firmware command (immediate, or future-dated at `execution_time`).

        `critical=True` adds the party's KRP signature (SME.C.C); False sends it MAC only.
        """
        counter = self._counter(party.entity_id, counter)
        payload = ActivateFirmwareCommand(image_hash, counter, execution_time).to_der()
        return self._build(
            party, device_id, device_ka_public, MSG_ACTIVATE_FIRMWARE, counter, payload, critical
        )

    def cancel_activation(
        self,
        party: RemoteParty,
        device_id: bytes,
        device_ka_public: ec.EllipticCurvePublicKey,
        image_hash: bytes,
        *,
        critical: bool = True,
        counter: int | None = None,
    ) -> bytes:
        """A CS06 that cancels the pending future-dated activation (9999-12-31T23:59:59Z)."""
        return self.activate_firmware(
            party,
            device_id,
            device_ka_public,
            image_hash,
            execution_time=CANCELLATION_TIME,
            critical=critical,
            counter=counter,
        )

    def read_firmware_version(
        self,
        party: RemoteParty,
        device_id: bytes,
        device_ka_public: ec.EllipticCurvePublicKey,
        *,
        counter: int | None = None,
    ) -> bytes:
        """A CS08 Read Firmware Version command (SME.C.NC: MAC only), from the ACB on behalf of
        `party`, whose id and counter ride in other-information."""
        supplementary = party.entity_id + self._counter(party.entity_id, None).to_bytes(8, "big")
        return self._build(
            RemoteParty(self.acb_id),
            device_id,
            device_ka_public,
            MSG_READ_FIRMWARE_VERSION,
            self._counter(self.acb_id, counter),
            ReadFirmwareVersionCommand().to_der(),
            False,
            other_info_extra=supplementary,
        )

    def _counter(self, originator: bytes, forced: int | None) -> int:
        if forced is not None:
            return forced
        value = self.next_counter.get(originator, self.first_counter)
        self.next_counter[originator] = value + 1
        return value

    def _build(
        self,
        party: RemoteParty,
        device_id: bytes,
        device_ka_public: ec.EllipticCurvePublicKey,
        message_code: int,
        counter: int,
        payload: bytes,
        critical: bool,
        *,
        other_info_extra: bytes = b"",
    ) -> bytes:
        header = GroupingHeader(
            cra=Cra.COMMAND,
            counter=counter,
            originator=party.entity_id,
            recipient=device_id,
            message_code=message_code,
            other_info_extra=other_info_extra,
        )
        frame = Frame(header, payload)
        if critical:
            if party.signing_key is None:
                raise GbcsFormatError(
                    "a Critical command needs the party's signing key", field="signature"
                )
            frame = sign_frame(frame, party.signing_key)
        key = derive_mac_key(self.acb_ka_key, device_ka_public, header)
        return apply_mac(frame, key).encode()
