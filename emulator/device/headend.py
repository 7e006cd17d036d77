"""The head-end's side of a firmware campaign, run: distribute, wait for the receipt, activate.

`HeadEndRunner` is the supplier and the DCC behind the Comms Hub, for every device of a scenario
on any air. For each device it follows one `DeviceCampaign`:

* it distributes the image by the device's route: over the DCC (the hub's OTA server stores it
  and notifies the device), over Wi-Fi (handed to the Wi-Fi route, `emulator.wifi`, which
  publishes it on the update server the device checks) or at a site visit;
* when the device's Firmware Distribution Receipt Alert 0x8F72 reaches it (or at the plan's
  explicit `activate_at`), it sends the plan's CS06 commands, built with the device's own
  activation config and keys, after the DCC's latency, has the hub instruct a CH-managed
  device, or has the ESME send a display-message device the activation text (paper IHD
  option 2);
* on the DCC route it first applies the DCC's scope and the enablers option 1 needs
  (`dcc_refusal`), and refuses a device with the reason;
* it decodes every response and alert and believes it only when it is the device's: its
  originator is the device, a signature it carries verifies with the device's signing key, a
  MAC with the key the ACB shares with the device, and it carries one or the other (anything
  else is kept in `unauthenticated` with the reason, and acted on not at all);
* it matches responses to commands by originator counter, and sends a command that got no
  response again, up to `MAX_ATTEMPTS` times, then names why it gave up;
* when the run keeps an inventory (`emulator.inventory`), it records every firmware switch with
  the version the device really runs, as the DCC inventory holds it.

It owns when the head-end acts; it never decides whether a device accepts (the device's
`ActivationHandler` does) and never reads wall time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.clock import Clock, Timer
from emulator.device.campaign import ActivationMode, ActivationPlan, image_hash, seconds_at
from emulator.device.emulated import EmulatedDevice
from emulator.device.gbdevice import manufacturer_image
from emulator.device.hub import CommsHub
from emulator.device.messaging import MESSAGING_CLUSTER, activation_text
from emulator.device.tunnel import (
    HUB_INSTRUCTION_ACTIVATE,
    HUB_INSTRUCTION_TUNNEL_ID,
    TUNNELING_CLUSTER,
)
from emulator.errors import GbcsFormatError
from emulator.gbcs.activation import ACTIVATION_RULES
from emulator.gbcs.frame import Frame, decode_frame
from emulator.gbcs.headend import HeadEnd
from emulator.gbcs.messages import (
    ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL,
    ActivateFirmwareCommand,
    ActivateFirmwareResponse,
    DeviceAlert,
    FutureDatedActivationAlert,
    PpmidActivationAlert,
    ReceiptAlert,
    decode_payload,
)
from emulator.gbcs.security import derive_mac_key, verify_mac, verify_signature
from emulator.inventory import Activation, Inventory
from emulator.profiles import DCC_PROVENANCES, DeviceProfile, Provenance, Route
from emulator.testpki import DEFAULT_SEED, derive_key

DCC_LATENCY_S = 30.0
"""From a receipt alert reaching the hub to the head-end's CS06 leaving the hub."""
HUB_LATENCY_S = 5.0
"""From a receipt alert to the hub's own activation instruction (CH-managed devices), and
between successive commands of one plan."""
DISPLAY_LANDING_S = HUB_LATENCY_S
"""How long the head-end counts a Display Message as under way (nothing acknowledges it)."""
RESPONSE_TIMEOUT_S = 120.0
"""How long the head-end waits for a command's response before sending it again."""
MAX_ATTEMPTS = 3
"""Sends of one command, the first included."""
LOCAL_VISIT_S = 3600.0
"""From the campaign to the engineer applying the image on site."""
ENGINEER_MINUTES_PER_VISIT = 90
"""An engineer's time for one site visit: travel, access, applying and checking the image."""


@dataclass(slots=True)
class DeviceCampaign:
    """What the head-end knows of one device's campaign."""

    device: EmulatedDevice
    route: Route
    plan: ActivationPlan
    mode: ActivationMode
    """The plan's mode resolved against the device's profile (NONE for a plain device)."""
    activate_at: float | None = None
    """Send the activation at this scenario time instead of on the receipt alert."""
    profile: DeviceProfile | None = None
    provenance: Provenance | None = None
    """Who provided this device, when the home says otherwise than its profile."""
    image: bytes | None = None
    image_hash: bytes | None = None
    """SHA-256 of the Manufacturer Image distributed."""
    distributed: bool = False
    distributed_at: float | None = None
    refused: str | None = None
    """Why the route would not take this device (the DCC's scope and enablers), or None."""
    ended: str | None = None
    """Why the device's own route ended without installing (a Wi-Fi update it refused, or the
    consumer declined or never answered), or None."""
    site_visits: int = 0
    dcc_messages: int = 0
    """GBCS messages through the DCC for this device: every command send (attempts counted)
    and every response or alert that came back."""
    sent: bool = False
    scheduled: int = 0
    """Sends armed and not yet made, or commands awaiting their response."""
    commands: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    """Alert codes the head-end received, in order, as hex ("8F72")."""
    receipt_hash: bytes | None = None
    activation_response: int | None = None
    cs09_result: int | None = None
    future_dated_code: int | None = None
    undecodable: list[str] = field(default_factory=list)
    unauthenticated: list[str] = field(default_factory=list)
    """Messages in the device's name the head-end did not believe, and why."""
    awaiting: dict[int, Timer] = field(default_factory=dict)
    """Response timers of the commands sent and not answered yet, by id of their record."""

    @property
    def activation_over(self) -> bool:
        """Nothing more will come from the head-end for this device."""
        return self.scheduled == 0 and (self.sent or self.mode is ActivationMode.NONE)

    @property
    def engineer_minutes(self) -> int:
        return self.site_visits * ENGINEER_MINUTES_PER_VISIT


class HeadEndRunner:
    """The supplier/DCC head-end behind a Comms Hub: one campaign per device."""

    def __init__(
        self,
        clock: Clock,
        hub: CommsHub,
        offer: Callable[[EmulatedDevice, bytes], None],
        *,
        pki_seed: int = DEFAULT_SEED,
        dcc_latency_s: float = DCC_LATENCY_S,
        display: Callable[[EmulatedDevice, str], None] | None = None,
        inventory: Inventory | None = None,
        wifi: Callable[[DeviceCampaign, bytes], None] | None = None,
        home: str = "",
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self.hub = hub
        self.offer = offer
        """The DCC route's last step: the hub's OTA server (or the air's) gets the image."""
        self.wifi = wifi or _no_wifi
        """The Wi-Fi route (`emulator.wifi.route.WifiRoute.publish`): it publishes the image
        for the device."""
        self.display = display
        """The Display Message route's last step: the ESME shows a device a text."""
        self.pki_seed = pki_seed
        self.dcc_latency_s = dcc_latency_s
        self.headend = HeadEnd(derive_key("acb", pki_seed))
        self.campaigns: dict[int, DeviceCampaign] = {}
        self.inventory = inventory
        """Where `activated` records firmware switches (None: nowhere)."""
        self.home = home
        self.seed = seed
        """The run the inventory's rows name."""
        hub.on_tunnel = self._from_device

    def add(self, campaign: DeviceCampaign) -> None:
        self.campaigns[campaign.device.nwk] = campaign

    # -- distribution ---------------------------------------------------------------------------

    def distribute(self, campaign: DeviceCampaign, image: bytes) -> None:
        """Send the image to the device by its route."""
        campaign.image = image
        campaign.image_hash = image_hash(manufacturer_image(image))
        campaign.distributed = True
        campaign.distributed_at = self.clock.now
        device = campaign.device
        if campaign.route == Route.WIFI:
            self.wifi(campaign, image)
        elif campaign.route == Route.LOCAL:
            campaign.site_visits += 1
            self.clock.call_later(LOCAL_VISIT_S, device.install, image, "at a site visit")
        else:
            if campaign.profile is not None:  # a plain Zigbee OTA client has no DCC bookkeeping
                campaign.refused = dcc_refusal(campaign.profile, campaign.provenance)
            if campaign.refused is not None:
                device.on_change()
                return
            self.offer(device, image)
        if campaign.activate_at is not None and campaign.mode is not ActivationMode.NONE:
            self._arm(campaign.activate_at - self.clock.now, self._activate, campaign)
        device.on_change()

    # -- inventory ------------------------------------------------------------------------------

    def activated(self, device: EmulatedDevice, file_version: int) -> None:
        """A device switched firmware (an `EmulatedDevice.on_activated` listener): the inventory
        records the version its flash now really runs, whatever `file_version` it announced."""
        if self.inventory is None:
            return
        campaign = self.campaigns.get(device.nwk)
        profile = None if campaign is None else campaign.profile
        self.inventory.record(
            Activation(
                device_id=f"{device.ieee:016X}",
                device=device.name,
                device_type=None if profile is None else str(profile.device_type),
                profile=None if profile is None else profile.name,
                route=None if campaign is None else str(campaign.route),
                supplier=None if campaign is None else campaign.plan.supplier,
                file_version=device.flash.running_version,
                t=round(self.clock.now, 6),
                home=self.home,
                seed=self.seed,
            )
        )

    # -- activation -----------------------------------------------------------------------------

    def _arm(self, delay: float, callback: Any, campaign: DeviceCampaign, *args: Any) -> None:
        campaign.scheduled += 1

        def run() -> None:
            campaign.scheduled -= 1
            callback(campaign, *args)
            campaign.device.on_change()

        self.clock.call_later(max(0.0, delay), run)

    def _activate(self, campaign: DeviceCampaign) -> None:
        """Carry out the plan: the CS06 commands, or the hub's instruction."""
        if campaign.sent:
            return
        campaign.sent = True
        device = campaign.device
        if campaign.mode is ActivationMode.DISPLAY_MESSAGE:
            assert campaign.image_hash is not None
            text = activation_text(campaign.image_hash)
            record = {"kind": "display-message", "text": text, "t": round(self.clock.now, 6)}
            campaign.commands.append(record)
            campaign.dcc_messages += 1  # the supplier's request to the ESME, through the DCC
            if self.display is None:
                record["gave_up"] = "no ESME in this home to send it"
            elif not any(MESSAGING_CLUSTER in e.output_clusters for e in device.zigbee.endpoints):
                record["gave_up"] = "the device has no Messaging (0x0703) client to show it"
            else:
                self.display(device, text)
                # Nothing answers a Display Message: give it time to land and be acted on.
                self._arm(DISPLAY_LANDING_S, _nothing, campaign)
            return
        if campaign.mode is ActivationMode.CH_MANAGED:
            delay = 0.0
            if campaign.plan.at is not None:
                delay = seconds_at(campaign.plan.at) - self.clock.now
            record: dict[str, Any] = {"kind": "hub-instruction"}
            campaign.commands.append(record)
            self._arm(delay, self._send, campaign, record, HUB_INSTRUCTION_ACTIVATE, 1)
            return
        assert device.gb is not None and campaign.image_hash is not None
        config = device.gb.handler.config
        messages = campaign.plan.commands(
            config.device_id,
            config.ka_key.public_key(),
            campaign.image_hash,
            seed=self.pki_seed,
            mode=campaign.mode,
            headend=self.headend,
        )
        seen: set[bytes] = set()
        for index, message in enumerate(messages):
            record = _describe(message, replay=message in seen)
            seen.add(message)
            campaign.commands.append(record)
            self._arm(index * HUB_LATENCY_S, self._send, campaign, record, message, 1)

    def _send(
        self, campaign: DeviceCampaign, record: dict[str, Any], message: bytes, attempt: int
    ) -> None:
        record["attempts"] = attempt
        record.setdefault("t", round(self.clock.now, 6))
        campaign.dcc_messages += 1
        nwk = campaign.device.nwk
        if record["kind"] == "hub-instruction":
            self.hub.send_tunnel(nwk, message, tunnel_id=HUB_INSTRUCTION_TUNNEL_ID)
        else:
            self.hub.send_tunnel(nwk, message)
        campaign.scheduled += 1
        campaign.awaiting[id(record)] = self.clock.call_later(
            RESPONSE_TIMEOUT_S, self._no_response, campaign, record, message, attempt
        )

    def _no_response(
        self, campaign: DeviceCampaign, record: dict[str, Any], message: bytes, attempt: int
    ) -> None:
        campaign.scheduled -= 1
        campaign.awaiting.pop(id(record), None)
        if attempt < MAX_ATTEMPTS:
            self._send(campaign, record, message, attempt + 1)
        else:
            record["gave_up"] = f"no response after {attempt} attempts"
        campaign.device.on_change()

    def _answered(self, campaign: DeviceCampaign, record: dict[str, Any]) -> None:
        timer: Timer | None = campaign.awaiting.pop(id(record), None)
        if timer is not None:
            timer.cancel()
            campaign.scheduled -= 1

    # -- what comes back ------------------------------------------------------------------------

    def _from_device(self, nwk: int, data: bytes) -> None:
        """A device's GBCS response or alert reached the hub (and the head-end behind it)."""
        campaign = self.campaigns.get(nwk)
        if campaign is None:
            return
        campaign.dcc_messages += 1
        try:
            frame = decode_frame(data)
            body = decode_payload(frame.header.message_code, frame.header.cra, frame.payload)
        except GbcsFormatError as exc:
            campaign.undecodable.append(str(exc))
            return
        doubt = self._doubt(campaign, frame)
        if doubt is not None:
            campaign.unauthenticated.append(f"0x{frame.header.message_code:04X}: {doubt}")
            campaign.device.on_change()
            return
        if isinstance(body, ActivateFirmwareResponse):
            code = None if body.outcome is None else body.outcome.code
            for record in campaign.commands:
                if record.get("counter") == frame.header.counter and "response" not in record:
                    record["response"] = code
                    self._answered(campaign, record)
                    break
            if code is not None:
                campaign.activation_response = code
        elif isinstance(body, DeviceAlert):
            campaign.alerts.append(f"{body.alert_code:04X}")
        elif isinstance(body, ReceiptAlert | FutureDatedActivationAlert | PpmidActivationAlert):
            campaign.alerts.append(f"{body.alert_code:04X}")
            if isinstance(body, ReceiptAlert):
                campaign.receipt_hash = body.image_hash
                if (
                    body.alert_code == ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL
                    and campaign.mode is not ActivationMode.NONE
                    and campaign.activate_at is None
                    and not campaign.sent
                ):
                    latency = (
                        HUB_LATENCY_S
                        if campaign.mode is ActivationMode.CH_MANAGED
                        else self.dcc_latency_s
                    )
                    self._arm(latency, self._activate, campaign)
            elif isinstance(body, PpmidActivationAlert):
                campaign.cs09_result = body.result
                for record in campaign.commands:
                    if record["kind"] == "hub-instruction" and id(record) in campaign.awaiting:
                        self._answered(campaign, record)
            else:
                campaign.future_dated_code = body.outcome.code
        campaign.device.on_change()

    def _doubt(self, campaign: DeviceCampaign, frame: Frame) -> str | None:
        """Why a message in the device's name is not the device's, or None when it is."""
        gb = campaign.device.gb
        if gb is None:
            return "the device holds no GBCS keys"
        config = gb.handler.config
        header = frame.header
        if header.originator != config.device_id:
            return f"originator {header.originator.hex().upper()} is not the device"
        if frame.signature is None and frame.mac is None:
            return "neither signed nor MAC'd"
        if frame.signature is not None and (
            config.signing_key is None
            or not verify_signature(frame, config.signing_key.public_key())
        ):
            return "the device's signature does not verify"
        if frame.mac is not None:
            key = derive_mac_key(self.headend.acb_ka_key, config.ka_key.public_key(), header)
            if not verify_mac(frame, key):
                return "the MAC does not verify"
        return None


def dcc_refusal(profile: DeviceProfile, provenance: Provenance | None = None) -> str | None:
    """Why the DCC will not update a device of `profile` (provided by `provenance`, default the
    profile's), or None: the options paper's scope (supplier-provided or mandated devices only)
    and the enablers option 1 needs."""
    provenance = provenance or profile.provenance
    if provenance not in DCC_PROVENANCES:
        return (
            f"out of scope: the DCC route is for supplier-provided or mandated devices, "
            f"this {profile.device_type} is {provenance}-provided"
        )
    if Route.DCC not in profile.routes:
        return (
            f"this {profile.device_type} has no DCC firmware route "
            f"(activation {profile.activation})"
        )
    if not any(TUNNELING_CLUSTER in e.output_clusters for e in profile.zigbee.endpoints):
        return (
            "no PPMID-like communications: no SE Tunneling (0x0704) client to carry GBCS "
            "commands (paper IHD option 4)"
        )
    if ACTIVATION_RULES[profile.activation].signature_required and not profile.supplier_slots:
        return (
            "a Critical activation needs a supplier certificate on the device, and it has "
            "no supplier slot (paper IHD option 3)"
        )
    return None


def _nothing(_campaign: DeviceCampaign) -> None:
    pass


def _no_wifi(campaign: DeviceCampaign, image: bytes) -> None:
    campaign.ended = "no Wi-Fi update server in this run"


def _describe(message: bytes, *, replay: bool) -> dict[str, Any]:
    """What the head-end reports of one CS06 command it sends."""
    frame = decode_frame(message)
    payload = ActivateFirmwareCommand.from_der(frame.payload)
    if replay:
        kind = "replay"
    elif payload.is_cancellation:
        kind = "cancel"
    elif payload.execution_time is not None:
        kind = "future-dated"
    else:
        kind = "activate"
    record: dict[str, Any] = {
        "kind": kind,
        "counter": frame.header.counter,
        "critical": frame.signature is not None,
        "hash": payload.image_hash.hex().upper(),
    }
    if payload.execution_time is not None and kind == "future-dated":
        record["at"] = payload.execution_time.isoformat().replace("+00:00", "Z")
    return record
