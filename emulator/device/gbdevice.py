"""Device-side GB activation wiring: an emulated device's OTA client and its GBCS handler.

`GbDevice` joins the two sans-IO machines a GB HAN device runs, according to its profile:

* The OTA client's verification hook is wrapped so that every finished download also reaches the
  `ActivationHandler` (`image_stored`), which raises the Firmware Distribution Receipt Alert
  (0x8F72 verified, 0x8F1C refused) with the hash of the Manufacturer Image.
* Devices whose activation class lets something other than the OTA server activate
  (`ActivationRule.out_of_band`: CS06, the Comms Hub, a Display Message) run their OTA client
  with activation policy "out-of-band": the Comms
  Hub's "upgrade now" does not switch firmware; an accepted CS06 (or, for a CH-managed PPMID, the
  hub's instruction, answered with CS09) does, through the client's `OutOfBandActivate`.
* GBCS bytes reach it as SE Tunneling TransferData (cluster 0x0704) through `receive_tunnel`; the
  device's responses and alerts go back through `send`.

`activation_config` builds a device's `ActivationConfig` from its profile and the test PKI (keys
derived from names, `emulator.testpki`). Nothing here is tied to a radio: `GbDevice` needs a node
with `client`, `on_state` and `out_of_band_activate` (the `EmulatedDevice`). It
never decides whether a command is genuine (the handler does) and never reads wall time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from emulator.device.campaign import PARTIES
from emulator.device.tunnel import GBCS_TUNNEL_ID, HUB_INSTRUCTION_TUNNEL_ID
from emulator.errors import ImageFormatError
from emulator.gbcs.activation import (
    ACTIVATION_RULES,
    ActivationConfig,
    ActivationHandler,
    Outcome,
    SupplierSlot,
)
from emulator.gbcs.headend import TEST_ENTITY_IDS
from emulator.ota import client as oc
from emulator.ota.image import parse_header, parse_image
from emulator.ota.policy import ClientPolicy
from emulator.profiles import DeviceProfile, SupplierSignature
from emulator.testpki import derive_key

SUPPLIERS = ("supplier-a", "supplier-b")
"""Supplier certificates a device's slots are filled with, in order."""


def manufacturer_image(data: bytes) -> bytes:
    """The GB Manufacturer Image of an OTA file (what CS06 names by hash); a file that is not a
    GB OTA Upgrade Image stands for itself."""
    try:
        parsed = parse_image(data)
    except ImageFormatError:
        return bytes(data)
    return bytes(parsed.manufacturer_image) if parsed.gb is not None else bytes(data)


def device_entity_id(ieee: int) -> bytes:
    """A device's GBCS entity id: its EUI-64, most significant octet first."""
    return ieee.to_bytes(8, "big")


def out_of_band(profile: DeviceProfile) -> bool:
    """Whether a GBCS command, not the OTA server, switches this device's firmware."""
    return ACTIVATION_RULES[profile.activation].out_of_band


def client_policy(profile: DeviceProfile) -> ClientPolicy:
    """The profile's OTA client policy with the activation policy its class implies."""
    policy = profile.ota
    if out_of_band(profile) and policy.activation_policy != "out-of-band":
        policy = policy.replace(activation_policy="out-of-band")
    return policy


def activation_config(
    profile: DeviceProfile, ieee: int, *, seed: int = 0, lead_supplier: str | None = None
) -> ActivationConfig:
    """The device's activation security from its profile and the test PKI; `lead_supplier`
    ("A" or "B", the campaign parties) is the only supplier whose activation it accepts."""
    slots = tuple(
        SupplierSlot(TEST_ENTITY_IDS[name], derive_key(name, seed).public_key(), name)
        for name in SUPPLIERS[: profile.supplier_slots]
    )
    return ActivationConfig(
        device_id=device_entity_id(ieee),
        activation=profile.activation,
        ka_key=derive_key(f"{profile.name}-ka", seed),
        acb_ka_public=derive_key("acb", seed).public_key(),
        acb_id=TEST_ENTITY_IDS["acb"],
        supplier_id=TEST_ENTITY_IDS[SUPPLIERS[0]],
        slots=slots,
        slot_capacity=profile.supplier_slots,
        signing_key=derive_key(f"{profile.name}-ds", seed),
        lead_supplier=None if lead_supplier is None else TEST_ENTITY_IDS[PARTIES[lead_supplier][0]],
    )


def device_verifier(profile: DeviceProfile, config: ActivationConfig) -> oc.Verifier:
    """How a GB device checks a finished download: every file check, and, when its profile
    requires a supplier signature, a GB supplier signature that verifies with the key of one of
    its slots (a file without one, or signed by anyone else, is refused). A device that
    requires none checks the rest."""
    if profile.supplier_signature is SupplierSignature.REQUIRED:
        checks = [oc.verifier_for(supplier_public_key=s.public_key) for s in config.slots]
        assert checks, "a required signature needs a slot (the profile loader checks it)"
    else:
        checks = [oc.verifier_for()]

    def verify(data: bytes) -> tuple[bool, str | None]:
        first: str | None = None
        for check in checks:
            ok, why = check(data)
            if ok:
                return True, None
            first = first or why
        return False, first

    return verify


class GbNode(Protocol):
    """What `GbDevice` needs from a device (an `EmulatedDevice`)."""

    client: oc.OtaClient
    on_state: list[Callable[[oc.State], None]]

    def out_of_band_activate(self) -> None: ...


@dataclass(slots=True)
class GbLog:
    """What the device's GBCS side did, for reports."""

    alerts: list[str] = field(default_factory=list)
    """Alert codes raised, in order, as "8F72" (the form `ota simulate` reports too)."""
    verdict: str | None = None
    """Verdict on the last activation command: "accepted", or why it was refused."""


class GbDevice:
    """A device's GBCS activation handler wired to its OTA client."""

    def __init__(
        self,
        node: GbNode,
        handler: ActivationHandler,
        *,
        send: Callable[[bytes], None],
        now: Callable[[], dt.datetime],
    ) -> None:
        self.node = node
        self.handler = handler
        self.send = send
        self.now = now
        self.log = GbLog()
        self._inner = node.client.verifier
        node.client.verifier = self._verify
        node.on_state.append(self._state)

    @property
    def activation_pending(self) -> bool:
        """The handler accepted an activation that the powered OTA client has not carried out
        yet (it was not waiting when the command came, or power went during its countdown).
        Derived from the two persisted versions, so it survives power loss."""
        client = self.node.client
        accepted = int.from_bytes(self.handler.state.running_version, "big")
        return client.state is not oc.State.OFF and accepted != client.current_file_version

    def _verify(self, data: bytes) -> tuple[bool, str | None]:
        ok, why = (True, None) if self._inner is None else self._inner(data)
        version = parse_header(data).file_version.to_bytes(4, "big")
        outcome = self.handler.image_stored(
            manufacturer_image(data), version, verified=ok, now=self.now()
        )
        self._emit(outcome)
        return ok, why

    def _emit(self, outcome: Outcome) -> None:
        self.log.alerts.extend(f"{code:04X}" for code in outcome.alert_codes)
        if outcome.response is not None:
            self.send(outcome.response)
        for alert in outcome.alerts:
            self.send(alert)
        if (
            outcome.activated_version is not None
            and self.node.client.state is oc.State.UPGRADE_VIA_OUT_OF_BAND
        ):
            self.node.out_of_band_activate()
        # Otherwise the client is not waiting yet (the command overtook its Upgrade End
        # exchange, or it is rebooting): `_state` switches it when it gets there.

    def _state(self, state: oc.State) -> None:
        if state is oc.State.UPGRADE_VIA_OUT_OF_BAND and self.activation_pending:
            self.node.out_of_band_activate()

    def receive_tunnel(self, tunnel_id: int, data: bytes) -> Outcome | None:
        """TransferData from the hub: a GBCS command, or the hub's own instruction."""
        if tunnel_id == HUB_INSTRUCTION_TUNNEL_ID:
            return self.ch_activate()
        if tunnel_id == GBCS_TUNNEL_ID:
            return self.receive(data)
        return None

    def receive(self, message: bytes) -> Outcome:
        """A GBCS command for this device."""
        outcome = self.handler.handle(message, self.now())
        self.log.verdict = outcome.verdict.value
        self._emit(outcome)
        return outcome

    def tick(self) -> None:
        """Run a due future-dated activation."""
        outcome = self.handler.tick(self.now())
        if outcome is not None:
            self._emit(outcome)

    def display_message(self, image_hash: bytes) -> Outcome:
        """A Display Message asked to activate the image with this hash (paper IHD option 2)."""
        outcome = self.handler.display_message_activate(image_hash, self.now())
        self.log.verdict = outcome.verdict.value
        self._emit(outcome)
        return outcome

    def ch_activate(self) -> Outcome:
        """The Comms Hub instructs activation (CH-managed devices raise CS09)."""
        outcome = self.handler.ch_activate(self.now())
        self.log.verdict = outcome.verdict.value
        self._emit(outcome)
        return outcome
