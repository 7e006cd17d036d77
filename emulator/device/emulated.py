"""One emulated HAN device, the same on every air.

`EmulatedDevice` is the OTA client driver (`ClientDriver`) of one device plus everything that
makes it a device rather than a state machine: its flash, its GB activation wiring (`GbDevice`,
for a device on the DCC route), its fault plan (`PowerCut`s), the statistics and events it
records, firmware arriving by another route (Wi-Fi, a site visit), and the one rule that says
what its download came to (`outcome`). It reaches the network only through a `Port` that the
air gives it (`emulator.radio`): the air says how a frame travels, never what a device does.

It never decides protocol behaviour (the OTA client's and the activation handler's), never
decides when the head-end acts (`emulator.device.headend`) and never reads wall time: time comes
from the clock it is given.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from zigpy.zcl import foundation

from emulator.clock import Clock, Timer
from emulator.device.campaign import at_time, seconds_at
from emulator.device.driver import ClientDriver
from emulator.device.flash import MemoryFlash
from emulator.device.gbdevice import GbDevice
from emulator.device.messaging import decode_display_message, requested_hash
from emulator.device.tunnel import (
    GBCS_TUNNEL_ID,
    TRANSFER_DATA_S2C,
    TunnelSender,
    parse_transfer_data,
)
from emulator.errors import GbcsFormatError
from emulator.findings import Finding, Severity
from emulator.gbcs.activation import ActivationConfig, ActivationHandler, ActivationState
from emulator.gbcs.frame import decode_frame
from emulator.ota import client as oc
from emulator.ota.client import ClientIdentity, OutcomeKind
from emulator.ota.frames import Send
from emulator.ota.image import parse_header
from emulator.ota.policy import ClientPolicy
from emulator.profiles import ZigbeeIdentity

REBOOT_S = 2.0
"""From activation to the device being back on the network, running the new image."""
POWER_CUT_OFF_S = 5.0
"""How long a power cut lasts unless its fault plan says otherwise."""


@dataclass(frozen=True, slots=True)
class PowerCut:
    """When to cut power: at a scenario time, after the n-th flash operation (writes and commits
    counted together, so an odd cut can fall between a write and its commit), or when the
    download first reaches a fraction of the file (right after that block's write, before its
    commit)."""

    at_time: float | None = None
    after_flash_ops: int | None = None
    at_fraction: float | None = None
    off_for_s: float = POWER_CUT_OFF_S


@dataclass(slots=True)
class DeviceStats:
    """What the device counted."""

    bytes: int = 0
    blocks: int = 0
    power_losses: int = 0
    resumed_from: list[int] = field(default_factory=list)
    """File offset of the slot record at each boot after a power loss."""
    committed_at_cut: list[int] = field(default_factory=list)
    """File offset of the committed slot record at each power cut (0 when none)."""
    invalid_records: int = 0
    download_started: float | None = None
    download_finished: float | None = None
    activated_at: float | None = None


class Port(Protocol):
    """What an air gives one device: how its frames and its questions travel."""

    def send_ota(self, send: Send) -> None:
        """Send an OTA client frame to `send.dst` after `send.delay` (if still powered)."""

    def send_tunnel(self, frame: bytes) -> None:
        """Send an SE Tunneling ZCL frame to the Comms Hub."""

    def discover_server(self) -> None:
        """Find the OTA server: answer `server_found` or `discovery_failed` later."""

    def resolve_server_eui(self, address: int) -> None:
        """Learn the server's EUI-64: answer `server_eui` later."""

    def power_changed(self, powered: bool) -> None:
        """The device's radio went on or off."""


class EmulatedDevice(ClientDriver):
    """One device: OTA client, flash, GB activation, faults, statistics and its outcome."""

    def __init__(
        self,
        *,
        name: str,
        clock: Clock,
        nwk: int,
        ieee: int,
        zigbee: ZigbeeIdentity,
        running_image: bytes,
        policy: ClientPolicy | None,
        rng: random.Random,
        verifier: oc.Verifier | None = None,
        activation: ActivationConfig | None = None,
        power_cuts: Sequence[PowerCut] = (),
        flash: MemoryFlash | None = None,
    ) -> None:
        """`activation` makes it a GB device on the DCC route (its GBCS handler holds that
        config); `flash` defaults to a fresh `MemoryFlash` holding `running_image`."""
        self.name = name
        self.nwk = nwk
        self.ieee = ieee
        self.zigbee = zigbee
        self.port: Port | None = None
        self.stats = DeviceStats()
        self.events: list[dict[str, Any]] = []
        self.on_state: list[Callable[[oc.State], None]] = []
        self.on_progress: Callable[[int, int], None] | None = None
        self.on_change: Callable[[], None] = lambda: None
        """Called whenever something that decides the device's outcome may have changed."""
        self.tunnel = TunnelSender(
            foundation.Direction.Client_to_Server, first_tsn=rng.randrange(256)
        )
        self.gbcs_received: list[dict[str, Any]] = []
        """Every tunnel frame that reached the device: when, its counter, the verdict."""
        self.findings: list[Finding] = []
        """What this device's updates showed about the security model (`emulator.findings`)."""
        self.hops = 1
        """Radio hops between the device and the Comms Hub (each pays the channel again)."""
        self.esme_nwk: int | None = None
        """The home's ESME, as the device knows it (paper IHD option 2 trusts it as a source);
        reports name other senders of a Display Message by their NWK address."""
        self.consent: str | None = None
        """The consumer's answer when the device asked ("accepted", "declined", "timed-out")."""
        self.on_activated: list[Callable[[EmulatedDevice, int], None]] = []
        """Called with the device and the file version it now runs, at every firmware switch
        (the head-end's inventory listens)."""
        self._client_outcome: tuple[OutcomeKind, str | None] | None = None
        self._rebooting = False
        self._after_cut = False
        """The next boot ends a power cut (and so resumes from the flash record)."""
        self._pending_install: tuple[bytes, str] | None = None
        self._installed: str | None = None
        self._tick_timer: Timer | None = None
        flash = flash if flash is not None else MemoryFlash(running_image)
        self.start_file_version = flash.running_version
        super().__init__(
            clock=clock,
            flash=flash,
            identity=ClientIdentity(zigbee.manufacturer_id, zigbee.image_type, ieee=ieee),
            policy=policy,
            rng=random.Random(rng.getrandbits(64)),
            verifier=verifier,
        )
        self._flash_ops = 0
        self._fraction_cuts = sorted(
            (c for c in power_cuts if c.at_fraction is not None), key=lambda c: c.at_fraction
        )
        self._op_cuts = sorted(
            (c for c in power_cuts if c.after_flash_ops is not None),
            key=lambda c: c.after_flash_ops,
        )
        for cut in power_cuts:
            if cut.at_time is not None:
                clock.call_at(cut.at_time, self._cut_power, cut)
        self.gb: GbDevice | None = None
        if activation is not None:
            version = zigbee.firmware_version.to_bytes(4, "big")
            self.gb = GbDevice(
                self,
                ActivationHandler(activation, ActivationState(version)),
                send=self._send_gbcs,
                now=lambda: at_time(int(self.clock.now)),  # GBCS times carry whole seconds
            )

    # -- what the air delivers ------------------------------------------------------------------

    @property
    def powered(self) -> bool:
        return self._powered

    def ota_frame(self, data: bytes, src: int, broadcast: bool = False) -> None:
        """An OTA cluster frame from the air."""
        if self._powered:
            self._feed(oc.FrameReceived(data, src, broadcast))

    def tunnel_frame(self, zcl: bytes) -> None:
        """An SE Tunneling frame from the hub. A device that is off never hears it."""
        try:
            hdr, payload = foundation.ZCLHeader.deserialize(zcl)
        except (ValueError, KeyError):
            return
        parsed = parse_transfer_data(payload)
        if hdr.command_id != TRANSFER_DATA_S2C or parsed is None or self.gb is None:
            return
        tunnel_id, data = parsed
        entry: dict[str, Any] = {"t": round(self.clock.now, 6), "counter": _counter(data)}
        if tunnel_id != GBCS_TUNNEL_ID:
            entry["kind"] = "hub-instruction"
        self.gbcs_received.append(entry)
        if not self._powered:
            entry["verdict"] = None
            self._event("gbcs-lost", command=entry.get("kind", "gbcs"))
            self.on_change()
            return
        outcome = self.gb.receive_tunnel(tunnel_id, data)
        if outcome is not None:
            entry["verdict"] = outcome.verdict.value
            entry["detail"] = outcome.detail
        self._event("gbcs", verdict=entry.get("verdict"))
        self._arm_tick()
        self.on_change()

    def messaging_frame(self, zcl: bytes, src: int) -> None:
        """A Messaging cluster frame from another HAN node (the ESME, or any other). A Display
        Message is shown; one whose text asks to activate firmware reaches the GB handler,
        which acts on it only for the display-message class (paper IHD option 2). Each such
        request is a finding: the activation no signature or MAC protected, the rogue one, or
        the request the device ignored."""
        if not self._powered:
            return
        message = decode_display_message(zcl)
        if message is None:
            return
        wanted = requested_hash(message.text)
        sender = "the ESME" if src == self.esme_nwk else f"HAN node 0x{src:04X}"
        event: dict[str, Any] = {"src": f"0x{src:04X}", "text": message.text}
        if wanted is None:
            self._event("display-message", **event, verdict="shown")
            return
        if self.gb is None:
            self._event("display-message", **event, verdict="no activation over the HAN")
            self.found(
                "display-message-refused",
                Severity.INFO,
                f"a Display Message from {sender} asked to activate firmware and was ignored: "
                "this device takes no activation over the HAN",
            )
            self.on_change()
            return
        outcome = self.gb.display_message(wanted)
        self._event("display-message", **event, verdict=outcome.verdict.value)
        if not outcome.accepted:
            self.found(
                "display-message-refused",
                Severity.INFO,
                f"a Display Message from {sender} asked to activate firmware and was ignored: "
                f"this device's activation is {self.gb.handler.config.rule.description}",
            )
        elif outcome.activated_version is not None and src == self.esme_nwk:
            self.found(
                "display-message-activation",
                Severity.MEDIUM,
                "firmware activated by a Display Message relayed by the ESME: a non-critical "
                "command that no signature or MAC protects (it breaks the GBCS security model; "
                "paper IHD option 2)",
            )
        elif outcome.activated_version is not None:
            self.found(
                "rogue-activation",
                Severity.HIGH,
                f"firmware activated by a Display Message from HAN node 0x{src:04X}, which is "
                "not the ESME: any node holding the network key can switch this device's "
                "firmware",
            )
        self.on_change()

    def server_found(self, address: int) -> None:
        self._feed(oc.ServerFound(address))

    def discovery_failed(self) -> None:
        self._feed(oc.DiscoveryFailed())

    def server_eui(self, ieee: int) -> None:
        self._feed(oc.ServerEuiResolved(ieee))

    def install(self, data: bytes, how: str) -> None:
        """Firmware arriving by another route (Wi-Fi, a site visit): written, then activated.
        A device without power installs it when it next boots."""
        if not self._powered:
            self._pending_install = (data, how)
            self.on_change()
            return
        self._rebooting = True
        self.power_off()
        self.flash.write_slot(0, data)
        header = parse_header(data)
        self.flash.commit_record(
            oc.DownloadRecord(
                header.manufacturer_id,
                header.image_type,
                header.file_version,
                len(data),
                len(data),
                header.stack_version,
            )
        )
        self.stats.bytes += len(data)
        version = self._switch_image()
        self._installed = f"installed {how}"
        self._on_activated(version)
        self._reboot_after(REBOOT_S)

    # -- the one outcome rule ------------------------------------------------------------------

    @property
    def activated(self) -> bool:
        return self.flash.running_version != self.start_file_version

    @property
    def client_outcome(self) -> tuple[OutcomeKind, str | None] | None:
        """The latest word of the OTA client (or another route) on the download."""
        return self._client_outcome

    @property
    def downloaded(self) -> bool:
        """A complete image waits in the download slot."""
        record = self.flash.record
        return record is not None and record.complete and not self.activated

    @property
    def busy(self) -> bool:
        """Something is under way that will change the outcome without the head-end: a
        reboot, a countdown, an accepted activation not carried out yet, a future-dated
        activation due."""
        if self._rebooting or self._pending_install is not None:
            return True
        if self.client.state is oc.State.COUNTDOWN_TO_UPGRADE:
            return True
        gb = self.gb
        return gb is not None and (gb.activation_pending or gb.handler.next_due() is not None)

    # -- ClientDriver hooks ---------------------------------------------------------------------

    def _send_frame(self, send: Send) -> None:
        assert self.port is not None, "a device needs an air before it is powered"
        self.port.send_ota(send)

    def _discover_server(self) -> None:
        assert self.port is not None
        self.port.discover_server()

    def _resolve_server_eui(self, address: int) -> None:
        assert self.port is not None
        self.port.resolve_server_eui(address)

    def _on_boot(self, boot: oc.PowerRestored) -> None:
        self._rebooting = False
        if self.port is not None:
            self.port.power_changed(True)
        if self.flash.record_bytes and boot.record is None:
            self.stats.invalid_records += 1
        if self._after_cut:  # not the reboot into a new image, nor the first power-up
            self._after_cut = False
            offset = boot.record.file_offset if boot.record is not None else 0
            self.stats.resumed_from.append(offset)
            self._event("power-restored", record_offset=offset)
        if self.gb is not None:
            self._arm_tick()  # a future-dated activation that fell due while off runs now

    def power_on(self) -> None:
        super().power_on()
        if self._pending_install is not None:
            data, how = self._pending_install
            self._pending_install = None
            self.install(data, how)
        self.on_change()

    def power_off(self) -> None:
        super().power_off()
        if self.port is not None:
            self.port.power_changed(False)

    def _on_block_written(self, end: int, size: int) -> bool:
        stats = self.stats
        stats.blocks += 1
        stats.bytes += size
        if self.on_progress is not None:
            self.on_progress(end, self._image_size)
        if not (self._op_cuts or self._fraction_cuts):  # no power cut planned: count the op
            self._flash_ops += 1
            return False
        return self._flash_op() or self._fraction_reached(end)

    def _on_record_committed(self) -> bool:
        if not self._op_cuts:
            self._flash_ops += 1
            return False
        return self._flash_op()

    def _on_outcome(self, kind: OutcomeKind, reason: str | None) -> None:
        outcome = OutcomeKind(kind)
        last = self._client_outcome
        if (
            outcome is OutcomeKind.NO_IMAGE
            and last is not None
            and last[0] is not OutcomeKind.NO_IMAGE
        ):
            return  # the device's next routine query after a real outcome is not news
        self._client_outcome = (outcome, reason)
        self.on_change()

    def _on_activated(self, version: int) -> None:
        self.stats.activated_at = self.clock.now
        self._event("activated", file_version=version)
        self._client_outcome = (OutcomeKind.ACTIVATED, self._installed)
        for listener in self.on_activated:
            listener(self, version)
        self.on_change()

    def found(self, kind: str, severity: Severity, sentence: str) -> None:
        """Record a security finding (`emulator.findings`), once per kind and sentence."""
        finding = Finding(kind, severity, sentence)
        if finding not in self.findings:
            self.findings.append(finding)
            self._event("finding", finding=kind, severity=severity.value)

    def _activate(self) -> None:
        self._rebooting = True  # before power goes: whoever watches sees a reboot under way
        super()._activate()
        self._reboot_after(REBOOT_S)  # back on the network, running the new image

    def _on_transition(self, tr: oc.Transition) -> None:
        now = self.clock.now
        event: dict[str, Any] = {
            "t": round(tr.time, 6),
            "event": "transition",
            "from": tr.old.value,
            "to": tr.new.value,
            "on": tr.trigger.value,
        }
        if tr.new is oc.State.DOWNLOAD:
            if tr.old is oc.State.QUERY_NEXT_IMAGE:
                self._client_outcome = None  # a new attempt: an earlier failure is history
            event["file_offset"] = self.client.file_offset
            event["downloaded_file_version"] = self.client.downloaded_file_version
            if self.stats.download_started is None:
                self.stats.download_started = now
        if tr.old is oc.State.DOWNLOAD and tr.new is oc.State.VERIFY_IMAGE:
            self.stats.download_finished = now
        self.events.append(event)
        for callback in self.on_state:
            callback(tr.new)
        if tr.new is oc.State.UPGRADE_VIA_OUT_OF_BAND and self.gb is None:
            self._client_outcome = (OutcomeKind.DOWNLOADED, "waiting for out-of-band activation")
        self.on_change()

    # -- faults ---------------------------------------------------------------------------------

    def _flash_op(self) -> bool:
        """Count a flash operation; cut power if a cut is due now. True if power was cut."""
        self._flash_ops += 1
        if self._op_cuts and self._op_cuts[0].after_flash_ops == self._flash_ops:
            self._cut_power(self._op_cuts.pop(0))
            return True
        return False

    def _fraction_reached(self, offset: int) -> bool:
        if not self._fraction_cuts or not self._image_size:
            return False
        cut = self._fraction_cuts[0]
        if offset >= (cut.at_fraction or 0.0) * self._image_size:
            self._fraction_cuts.pop(0)
            self._cut_power(cut)
            return True
        return False

    def _cut_power(self, cut: PowerCut) -> None:
        if not self._powered:
            return
        self._check_running_untouched()
        self.stats.power_losses += 1
        record = self.flash.record
        self.stats.committed_at_cut.append(record.file_offset if record is not None else 0)
        self._event("power-lost", record_offset=self.stats.committed_at_cut[-1])
        self._rebooting = self._after_cut = True  # before power goes: the run is not over
        self.power_off()
        self._reboot_after(cut.off_for_s)

    def _reboot_after(self, seconds: float) -> None:
        self._rebooting = True
        self.clock.call_later(seconds, self.power_on)
        self.on_change()

    # -- GBCS -----------------------------------------------------------------------------------

    def _send_gbcs(self, data: bytes) -> None:
        """A response or alert from the device's GBCS side, to the hub."""
        if self.port is not None and self._powered:
            self.port.send_tunnel(self.tunnel.frame(data))

    def _arm_tick(self) -> None:
        assert self.gb is not None
        due = self.gb.handler.next_due()
        if self._tick_timer is not None:
            self._tick_timer.cancel()
            self._tick_timer = None
        if due is not None:
            self._tick_timer = self.clock.call_at(max(seconds_at(due), self.clock.now), self._tick)

    def _tick(self) -> None:
        assert self.gb is not None
        self._tick_timer = None
        if not self._powered:
            return  # runs when the device boots again (_on_boot)
        self.gb.tick()
        self._event("future-dated-activation")
        self._arm_tick()
        self.on_change()

    # -- recording ------------------------------------------------------------------------------

    def _event(self, kind: str, **data: Any) -> None:
        self.events.append({"t": round(self.clock.now, 6), "event": kind, **data})


def _counter(message: bytes) -> int | None:
    """The originator counter of a GBCS message, if it decodes."""
    try:
        return decode_frame(message).header.counter
    except GbcsFormatError:
        return None
