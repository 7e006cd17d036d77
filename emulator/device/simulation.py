"""One OTA client against one OTA server over a seeded link, in virtual or real time.

`Simulation` is a `ClientDriver` (`emulator.device.driver`, which carries out the client's
actions on a `MemoryFlash`) that also runs the server: it schedules frame deliveries through two
`Link`s on a `VirtualClock`, cuts and restores power when told to (at a time, after a flash
operation, at a download fraction), answers server discovery with the one known server, and
records what happened. It is what `hanemu ota simulate` runs and what the conformance and
power-loss tests drive. It never decides protocol behaviour (that is the client's and server's)
and never reads wall time itself: time comes from the clock it is given (virtual by default,
`RealClock` for `run_realtime`).

Given a device profile (`gb_profile`), the client is also a GB HAN device: a `GbDevice`
(`emulator.device.gbdevice`) wires its GBCS `ActivationHandler` to the client, and the driver plays
the head-end's side of an `ActivationPlan` (`emulator.device.campaign`). Once the download is over
(the client waits for out-of-band activation, refused the image, or was activated by the server),
or at `headend_at`, the plan's CS06 commands (or the Comms Hub's instruction) reach the device as
SE Tunneling TransferData frames over a fault-free link with the OTA link's latency; the device's
responses and alerts come back the same way and are decoded at the head-end. An accepted
activation reaches the client as `OutOfBandActivate`, and the running image switches in flash
only through the client's own `Activate`. A future-dated activation runs when its time comes
(a clock timer armed at the handler's `next_due()`). GBCS calendar time is `campaign.EPOCH`
plus virtual time.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zigpy.zcl import foundation

from emulator.clock import Clock, RealClock, TimerHandle, VirtualClock
from emulator.device.campaign import ActivationPlan, at_time, image_hash, seconds_at
from emulator.device.driver import ClientDriver
from emulator.device.flash import MemoryFlash
from emulator.device.gbdevice import (
    GbDevice,
    activation_config,
    device_verifier,
    manufacturer_image,
)
from emulator.device.tunnel import (
    GBCS_TUNNEL_ID,
    HUB_INSTRUCTION_TUNNEL_ID,
    TUNNELING_CLUSTER,
    transfer_data,
)
from emulator.errors import GbcsFormatError, PolicyError
from emulator.gbcs.frame import decode_frame
from emulator.gbcs.messages import (
    ActivateFirmwareCommand,
    ActivateFirmwareResponse,
    FutureDatedActivationAlert,
    PpmidActivationAlert,
    ReceiptAlert,
    decode_payload,
)
from emulator.ota import client as oc
from emulator.ota.client import ClientIdentity, OtaClient
from emulator.ota.frames import Send
from emulator.ota.link import Link, LinkPolicy
from emulator.ota.policy import ClientPolicy, ServerPolicy
from emulator.ota.server import ImageStore, OtaServer
from emulator.profiles import DeviceProfile
from emulator.testpki import DEFAULT_SEED

SERVER_ADDRESS = 0x0000
SERVER_IEEE = 0x000D6F0000198B36
CLIENT_ADDRESS = 0x4F2A
DISCOVERY_LATENCY_S = 0.05
SETTLE_S = 1.0
HEADEND_DELAY_S = 1.0
"""From the download being over to the head-end's first command leaving."""
COMMAND_SPACING_S = 1.0
"""Between successive commands of one activation plan."""
FUTURE_MARGIN_S = 3600.0
"""Simulated time kept after a future-dated activation's time."""
HUB_INSTRUCTION_ACTIVATE = b"\x01"
RESPONSE_CODE_NAMES = {0: "success", 1: "noImageHeld", 2: "hashMismatch", 3: "activationFailure"}
"""activateImageResponseCode names as GBCS spells them."""


@dataclass(frozen=True, slots=True)
class PowerCut:
    """When to cut power: at a virtual time, after the n-th flash operation (writes and commits
    counted together, so an odd cut can fall between a write and its commit), or when the
    download first reaches a fraction of the file (cut right after that block's write, before
    its commit)."""

    at_time: float | None = None
    after_flash_ops: int | None = None
    at_fraction: float | None = None
    off_for_s: float = 5.0


@dataclass(slots=True)
class SimulationResult:
    outcome: str
    reason: str | None
    start_file_version: int
    final_file_version: int
    bytes: int
    blocks: int
    retries: int
    power_losses: int
    virtual_seconds: float
    events: list[dict[str, Any]]
    resumed_from: list[int] = field(default_factory=list)
    """File offset of the slot record at each boot after a power loss (0 or more)."""
    committed_at_cut: list[int] = field(default_factory=list)
    """File offset of the committed slot record at each power cut (0 when none)."""
    invalid_records: int = 0
    running_changed_before_activation: bool = False
    running_image: bytes = b""
    activation_response: int | None = None
    """activateImageResponseCode of the last CS06 response that carried one (None: no CS06
    answered with an outcome: refused before processing, future-dated, or none sent)."""
    alerts: list[str] = field(default_factory=list)
    """Alert codes the head-end received, in order, as hex ("8F72")."""
    gb: dict[str, Any] | None = None
    """For a GB device: profile, activation mode, hash, and what each command met."""

    def to_json(self) -> dict[str, Any]:
        gb = {} if self.gb is None else self.gb
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "start_file_version": self.start_file_version,
            "final_file_version": self.final_file_version,
            "bytes": self.bytes,
            "blocks": self.blocks,
            "retries": self.retries,
            "power_losses": self.power_losses,
            "virtual_seconds": round(self.virtual_seconds, 6),
            "resumed_from": self.resumed_from,
            "activation_response": self.activation_response,
            "alerts": self.alerts,
            **gb,
            "events": self.events,
        }


class _SimNode:
    """The simulation's client seen as a `GbNode`."""

    def __init__(self, sim: Simulation) -> None:
        self._sim = sim
        self.handlers: dict[int, Callable[..., None]] = {}
        self.on_state: list[Callable[[oc.State], None]] = []

    @property
    def client(self) -> OtaClient:
        return self._sim.client

    def on_cluster(self, cluster: int, handler: Callable[..., None]) -> None:
        self.handlers[cluster] = handler

    def out_of_band_activate(self) -> None:
        self._sim.out_of_band_activate()


class Simulation(ClientDriver):
    """Wires client, server, links, flash and clock; `run()` plays it to an outcome."""

    def __init__(
        self,
        *,
        running_image: bytes,
        images: Sequence[bytes],
        identity: ClientIdentity,
        client_policy: ClientPolicy | None = None,
        server_policy: ServerPolicy | None = None,
        link: LinkPolicy | None = None,
        power_cuts: Sequence[PowerCut] = (),
        seed: int = 0,
        verifier: oc.Verifier | None = None,
        store: ImageStore | None = None,
        max_virtual_s: float = 2 * 86400,
        progress: Callable[[int, int], None] | None = None,
        flash: MemoryFlash | None = None,
        clock: Clock | None = None,
        gb_profile: DeviceProfile | None = None,
        plan: ActivationPlan | None = None,
        headend_at: float | None = None,
        pki_seed: int = DEFAULT_SEED,
    ) -> None:
        """`gb_profile` makes the client a GB device of that profile (its client policy is
        still `client_policy`: pass `gbdevice.client_policy(profile)`), `plan` is what the
        head-end asks of it (default: nothing), `headend_at` sends the plan at that virtual
        time instead of once the download is over, `pki_seed` picks the test PKI's keys."""
        rng = random.Random(seed)
        clock = clock if clock is not None else VirtualClock()
        flash = flash if flash is not None else MemoryFlash(running_image)
        if store is None:
            store = ImageStore()
            for data in images:
                store.add(data)
        self.store = store
        self.server = OtaServer(store, server_policy, tsn=rng.randrange(256))
        link = link or LinkPolicy()
        self.up = Link(link, random.Random(rng.getrandbits(64)))
        self.down = Link(link, random.Random(rng.getrandbits(64)))
        super().__init__(
            clock=clock,
            flash=flash,
            identity=identity,
            policy=client_policy,
            rng=random.Random(rng.getrandbits(64)),
            verifier=verifier,
        )
        self.power_cuts = list(power_cuts)
        self.max_virtual_s = max_virtual_s
        self.progress = progress
        self.events: list[dict[str, Any]] = []
        self.outcome: str | None = None
        self.reason: str | None = None
        self.outcome_time = 0.0
        self.start_file_version = self.flash.running_version
        self.blocks = 0
        self.bytes = 0
        self.power_losses = 0
        self.resumed_from: list[int] = []
        self.committed_at_cut: list[int] = []
        self.invalid_records = 0
        self._rebooting = False
        """Power was cut and is due back: the run is not over while a device is rebooting."""
        self.activation_response: int | None = None
        self.alerts: list[str] = []
        self._on_finish: Callable[[], None] | None = None
        self._flash_ops = 0
        self._fraction_cuts = sorted(
            (c for c in self.power_cuts if c.at_fraction is not None),
            key=lambda c: c.at_fraction or 0.0,
        )
        self._op_cuts = sorted(
            (c for c in self.power_cuts if c.after_flash_ops is not None),
            key=lambda c: c.after_flash_ops or 0,
        )
        for cut in self.power_cuts:
            if cut.at_time is not None:
                self.clock.call_at(cut.at_time, self._cut_power, cut)
        self.gb: GbDevice | None = None
        self._node: _SimNode | None = None
        if gb_profile is not None:
            if len(images) != 1:
                raise PolicyError("a GB campaign distributes exactly one image")
            plan = plan or ActivationPlan(mode="none")
            self._setup_gb(gb_profile, plan, images[0], headend_at, seed, pki_seed)
        elif plan is not None or headend_at is not None:
            raise PolicyError("an activation plan needs a GB device profile")

    # -- recording ----------------------------------------------------------------------------

    def _event(self, kind: str, **data: Any) -> None:
        self.events.append({"t": round(self.clock.now, 6), "event": kind, **data})

    def _on_transition(self, tr: oc.Transition) -> None:
        event = {
            "t": round(tr.time, 6),
            "event": "transition",
            "from": tr.old.value,
            "to": tr.new.value,
            "on": tr.trigger.value,
        }
        if tr.new is oc.State.DOWNLOAD:
            event["file_offset"] = self.client.file_offset
            event["downloaded_file_version"] = self.client.downloaded_file_version
        self.events.append(event)
        if self._node is not None:
            for callback in self._node.on_state:
                callback(tr.new)
        if tr.new is oc.State.UPGRADE_VIA_OUT_OF_BAND:
            if self.gb is None:
                self._finish("downloaded", "waiting for out-of-band activation")
            else:
                self._download_over()

    # -- driving the client (ClientDriver hooks) ----------------------------------------------

    def _accepts(self, event: oc.Event) -> bool:
        return self.outcome is None or isinstance(event, oc.PowerLost | oc.PowerRestored)

    def _send_frame(self, send: Send) -> None:
        self._transmit(self.up, send, self._to_server)

    def _discover_server(self) -> None:
        self.clock.call_later(DISCOVERY_LATENCY_S, self._feed, oc.ServerFound(SERVER_ADDRESS))

    def _resolve_server_eui(self, address: int) -> None:
        self.clock.call_later(DISCOVERY_LATENCY_S, self._feed, oc.ServerEuiResolved(SERVER_IEEE))

    def _on_block_written(self, end: int, size: int) -> bool:
        self.blocks += 1
        self.bytes += size
        if self.progress is not None:
            self.progress(end, self._image_size)
        return self._flash_op() or self._fraction_reached(end)

    def _on_record_committed(self) -> bool:
        return self._flash_op()

    def _on_outcome(self, kind: str, reason: str | None) -> None:
        self._finish(kind, reason)
        if self.gb is not None:
            self._download_over()

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

    def _transmit(self, link: Link, send: Send, deliver: Callable[[bytes], None]) -> None:
        for delay, data in link.transmit(send.data):
            self.clock.call_later(send.delay + delay, deliver, data)

    def _to_server(self, data: bytes) -> None:
        for send in self.server.handle(data, CLIENT_ADDRESS, self.clock.now):
            self._transmit(self.down, send, self._to_client)

    def _to_client(self, data: bytes) -> None:
        if self._powered:
            self._feed(oc.FrameReceived(data, SERVER_ADDRESS))

    # -- power and activation ----------------------------------------------------------------------

    def _on_boot(self, boot: oc.PowerRestored) -> None:
        self._rebooting = False
        if self.gb is not None:
            self._arm_tick()  # a future-dated activation that fell due while off runs now
        if self.flash.record_bytes and boot.record is None:
            self.invalid_records += 1
        if self.power_losses:
            self.resumed_from.append(boot.record.file_offset if boot.record is not None else 0)
            self._event("power-restored", record_offset=self.resumed_from[-1])

    def _cut_power(self, cut: PowerCut) -> None:
        if not self._powered or self.outcome is not None:
            return
        self._check_running_untouched()
        self.power_losses += 1
        record = self.flash.record
        self.committed_at_cut.append(record.file_offset if record is not None else 0)
        self._event("power-lost", record_offset=self.committed_at_cut[-1])
        self.power_off()
        self._rebooting = True
        self.clock.call_later(cut.off_for_s, self.power_on)

    def _on_activated(self, version: int) -> None:
        self._event("activated", file_version=version)
        self._finish("activated", None)
        if self.gb is not None:
            self._download_over()

    def _finish(self, outcome: str, reason: str | None) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.reason = reason
            self.outcome_time = self.clock.now
            if self._on_finish is not None:
                self._on_finish()

    # -- the GB device and the head-end ------------------------------------------------------------

    def _setup_gb(
        self,
        profile: DeviceProfile,
        plan: ActivationPlan,
        distributed: bytes,
        headend_at: float | None,
        seed: int,
        pki_seed: int,
    ) -> None:
        self.profile = profile
        self.plan = plan
        self.mode = plan.resolved_mode(profile)
        self.pki_seed = pki_seed
        config = activation_config(profile, self.client.identity.ieee, seed=pki_seed)
        if self.client.verifier is oc.default_verifier:
            self.client.verifier = device_verifier(config)
        self._node = _SimNode(self)
        self.gb = GbDevice.for_profile(
            self._node,
            profile,
            self.client.identity.ieee,
            send=self._device_sends,
            now=lambda: at_time(int(self.clock.now)),  # GBCS times carry whole seconds
            seed=pki_seed,
        )
        self.device_id = config.device_id
        self.device_ka_public = config.ka_key.public_key()
        self.sent_hash = image_hash(manufacturer_image(distributed))
        self.tunnel = Link(
            LinkPolicy(latency_s=self.up.policy.latency_s, jitter_s=self.up.policy.jitter_s),
            random.Random(f"gbcs tunnel/{seed}"),
        )
        self.commands: list[dict[str, Any]] = []
        self.receipt_hash: bytes | None = None
        self.cs09_result: int | None = None
        self.future_dated_code: int | None = None
        self._by_counter: dict[int, list[dict[str, Any]]] = {}
        self._gb_in_flight = 0
        self._gb_sent = False
        self._gb_download_over = False
        self._tick_timer: TimerHandle | None = None
        self._tsn = 0
        if plan.at is not None and not plan.cancel:
            self.max_virtual_s = max(self.max_virtual_s, seconds_at(plan.at) + FUTURE_MARGIN_S)
        if headend_at is not None:
            self._gb_in_flight += 1
            self.clock.call_at(headend_at, self._headend_sends)

    def _download_over(self) -> None:
        if self._gb_download_over:
            return
        self._gb_download_over = True
        if not self._gb_sent:
            self._gb_in_flight += 1
            self.clock.call_later(HEADEND_DELAY_S, self._headend_sends)

    def _headend_sends(self) -> None:
        """The head-end carries out the plan: CS06 commands, or the hub's instruction."""
        self._gb_in_flight -= 1
        if self._gb_sent:
            return
        self._gb_sent = True
        if self.mode == "ch-managed":
            delay = 0.0
            if self.plan.at is not None:
                delay = max(0.0, seconds_at(self.plan.at) - self.clock.now)
            self._gb_in_flight += 1
            self.clock.call_later(
                delay, self._to_device, HUB_INSTRUCTION_TUNNEL_ID, HUB_INSTRUCTION_ACTIVATE, None
            )
            return
        messages = self.plan.commands(
            self.device_id,
            self.device_ka_public,
            self.sent_hash,
            seed=self.pki_seed,
            mode=self.mode,
        )
        seen: set[bytes] = set()
        for index, message in enumerate(messages):
            command = self._describe(message, replay=message in seen)
            seen.add(message)
            self.commands.append(command)
            self._gb_in_flight += 1
            self.clock.call_later(
                index * COMMAND_SPACING_S, self._to_device, GBCS_TUNNEL_ID, message, command
            )

    def _describe(self, message: bytes, *, replay: bool) -> dict[str, Any]:
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
        command: dict[str, Any] = {
            "kind": kind,
            "counter": frame.header.counter,
            "critical": frame.signature is not None,
            "hash": payload.image_hash.hex().upper(),
        }
        if kind == "future-dated":
            assert payload.execution_time is not None
            command["at"] = payload.execution_time.isoformat().replace("+00:00", "Z")
        self._by_counter.setdefault(frame.header.counter, []).append(command)
        return command

    def _next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) & 0xFF
        return self._tsn

    def _to_device(self, tunnel: int, data: bytes, command: dict[str, Any] | None) -> None:
        """Head-end -> hub -> device: one TransferData frame over the tunnel link."""
        zcl = transfer_data(
            self._next_tsn(),
            data,
            direction=foundation.Direction.Server_to_Client,
            tunnel_id=tunnel,
        )
        for delay, frame in self.tunnel.transmit(zcl):
            self._gb_in_flight += 1
            self.clock.call_later(delay, self._device_receives, frame, command)
        self._gb_in_flight -= 1

    def _device_receives(self, zcl: bytes, command: dict[str, Any] | None) -> None:
        self._gb_in_flight -= 1
        assert self.gb is not None and self._node is not None
        if not self._powered:
            # The device's radio is off: the frame is lost and the command never processed.
            if command is None:
                self.commands.append({"kind": "hub-instruction"})
            self._event("gbcs-lost", command=command["kind"] if command else "hub-instruction")
            return
        handler = self.gb.handler
        before = len(handler.log)
        hdr, payload = foundation.ZCLHeader.deserialize(zcl)
        self._node.handlers[TUNNELING_CLUSTER](hdr, payload, None)
        outcomes = handler.log[before:]
        record = command if command is not None else {"kind": "hub-instruction"}
        if command is None:
            self.commands.append(record)
        record["t"] = round(self.clock.now, 6)
        if outcomes:
            record["verdict"] = outcomes[0].verdict.value
            record["detail"] = outcomes[0].detail
        self._event("gbcs", command=record["kind"], verdict=record.get("verdict"))
        self._arm_tick()

    def _arm_tick(self) -> None:
        assert self.gb is not None
        due = self.gb.handler.next_due()
        if self._tick_timer is not None:
            self._tick_timer.cancel()
            self._tick_timer = None
        if due is not None:
            when = max(seconds_at(due), self.clock.now)
            self._tick_timer = self.clock.call_at(when, self._tick)

    def _tick(self) -> None:
        assert self.gb is not None
        self._tick_timer = None
        if not self._powered:
            return  # runs when the device boots again (_on_boot)
        self.gb.tick()
        self._event("future-dated-activation")
        self._arm_tick()

    def _device_sends(self, data: bytes) -> None:
        """Device -> hub -> head-end: a response or alert as TransferData."""
        zcl = transfer_data(self._next_tsn(), data, direction=foundation.Direction.Client_to_Server)
        for delay, frame in self.tunnel.transmit(zcl):
            self._gb_in_flight += 1
            self.clock.call_later(delay, self._headend_receives, frame)

    def _headend_receives(self, zcl: bytes) -> None:
        self._gb_in_flight -= 1
        _hdr, payload = foundation.ZCLHeader.deserialize(zcl)
        try:
            frame = decode_frame(payload[2:])
            body = decode_payload(frame.header.message_code, frame.header.cra, frame.payload)
        except GbcsFormatError as exc:
            self._event("gbcs-undecodable", detail=str(exc))
            return
        if isinstance(body, ActivateFirmwareResponse):
            code = None if body.outcome is None else body.outcome.code
            for command in self._by_counter.get(frame.header.counter, []):
                if "response" not in command:
                    command["response"] = code
                    break
            if code is not None:
                self.activation_response = code
        elif isinstance(body, ReceiptAlert | FutureDatedActivationAlert | PpmidActivationAlert):
            self.alerts.append(f"{body.alert_code:04X}")
            if isinstance(body, ReceiptAlert):
                self.receipt_hash = body.image_hash
            elif isinstance(body, PpmidActivationAlert):
                self.cs09_result = body.result
            else:
                self.future_dated_code = body.outcome.code

    def _gb_done(self) -> bool:
        """The campaign has nothing left to happen: download over, every command and reply
        delivered, nothing pending on the device, no activation under way."""
        assert self.gb is not None
        return (
            self._gb_download_over
            and (self._gb_sent or self.mode == "none")
            and self._gb_in_flight == 0
            and self.gb.handler.next_due() is None
            and self.client.state is not oc.State.COUNTDOWN_TO_UPGRADE
            and not self._rebooting
            and not self.gb.activation_pending
        )

    def _gb_conclude(self) -> None:
        """Say honestly what the campaign came to (overrides the client's own outcome)."""
        assert self.gb is not None
        notes: list[str] = []
        lost: list[str] = []  # commands that never reached a powered device: not refusals
        cancelled = False
        for command in self.commands:
            verdict = command.get("verdict")
            if verdict is None:
                lost.append(f"{command['kind']}: never processed")
            elif verdict != "accepted":
                source = "Comms Hub activation" if command["kind"] == "hub-instruction" else "CS06"
                notes.append(f"{source} refused: {verdict}")
            elif command["kind"] == "cancel":
                cancelled = True
            code = command.get("response")
            if code:
                notes.append(f"CS06 {RESPONSE_CODE_NAMES.get(code, code)}")
        future = self.future_dated_code
        if future:
            name = RESPONSE_CODE_NAMES.get(future, future)
            notes.append(f"future-dated activation failed: {name}")
        if self.cs09_result:
            notes.append("Comms Hub activation failed (CS09 result failure)")
        handler_version = int.from_bytes(self.gb.handler.state.running_version, "big")
        if handler_version != self.start_file_version == self.flash.running_version:
            notes.append("the device accepted activation but its OTA client did not switch")
        changed = self.flash.running_version != self.start_file_version
        client_kind, client_reason = self.outcome, self.reason
        if changed:
            outcome, reason = "activated", "; ".join(notes + lost) or None
        elif client_kind in ("rejected", "failed", "no-image"):
            outcome, reason = client_kind, "; ".join([client_reason or client_kind, *notes, *lost])
        elif notes:
            outcome, reason = "rejected", "; ".join(notes + lost)
        elif lost:
            outcome, reason = "downloaded", "; ".join(lost) + " (the device was off)"
        elif cancelled:
            outcome, reason = "downloaded", "future-dated activation cancelled"
        elif not self._gb_download_over:
            outcome, reason = "failed", "no outcome within the simulated time"
        elif self.mode == "none":
            outcome, reason = "downloaded", "no activation asked for; waiting for activation"
        else:
            outcome, reason = "downloaded", "activation pending beyond the simulated time"
        self.outcome, self.reason = outcome, reason
        self.outcome_time = self.clock.now

    def _gb_report(self) -> dict[str, Any] | None:
        if self.gb is None:
            return None
        return {
            "profile": self.profile.name,
            "activation_mode": self.mode,
            "image_hash": self.sent_hash.hex().upper(),
            "receipt_hash": None if self.receipt_hash is None else self.receipt_hash.hex().upper(),
            "running_version": self.gb.handler.state.running_version.hex().upper(),
            "commands": self.commands,
        }

    # -- running -----------------------------------------------------------------------------------

    def run(self) -> SimulationResult:
        """Play to an outcome in virtual time (the clock must be a `VirtualClock`)."""
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("run() needs a VirtualClock; use run_realtime() with a RealClock")
        self.power_on()
        limit = self.max_virtual_s
        while self.outcome is None if self.gb is None else not self._gb_done():
            due = clock.next_due()
            if due is None or due > limit:
                break
            clock.step()
        if self.gb is not None:
            self._gb_conclude()
        self._finish_without_outcome()
        # Let frames already in the air land (the server logs them); the client is done.
        clock.run_until(clock.now + SETTLE_S)
        return self._result()

    async def run_realtime(self) -> SimulationResult:
        """Play to an outcome in real time on the running asyncio loop (a `RealClock`)."""
        if not isinstance(self.clock, RealClock):
            raise TypeError("run_realtime() needs a RealClock")
        if self.gb is not None:
            raise PolicyError("a GB campaign runs in virtual time only")
        done = asyncio.Event()
        self._on_finish = done.set
        self.power_on()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), self.max_virtual_s)
        self._finish_without_outcome()
        return self._result()

    def _finish_without_outcome(self) -> None:
        if self.outcome is None:
            record = self.flash.record
            if record is not None and record.complete:
                self._finish("downloaded", "waiting for the server to say when to upgrade")
            else:
                self._finish("failed", "no outcome within the simulated time")

    def _result(self) -> SimulationResult:
        self._check_running_untouched()
        return SimulationResult(
            outcome=self.outcome or "failed",
            reason=self.reason,
            start_file_version=self.start_file_version,
            final_file_version=self.flash.running_version,
            bytes=self.bytes,
            blocks=self.blocks,
            retries=self.client.retries,
            power_losses=self.power_losses,
            virtual_seconds=self.outcome_time,
            events=self.events,
            resumed_from=self.resumed_from,
            committed_at_cut=self.committed_at_cut,
            invalid_records=self.invalid_records,
            running_changed_before_activation=self.running_changed_early,
            running_image=self.flash.running,
            activation_response=self.activation_response,
            alerts=list(self.alerts),
            gb=self._gb_report(),
        )
