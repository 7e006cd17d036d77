"""One OTA client against one OTA server over a seeded link, in virtual or real time.

This module owns the driver that carries out the sans-IO machines' actions: it schedules frame
deliveries through two `Link`s on a `VirtualClock`, arms the client's timer, applies flash writes
and commits to a `MemoryFlash`, cuts and restores power when told to, answers server discovery with
the one known server, reboots the client after activation, and records what happened. It is what
`hanemu ota simulate` runs and what the conformance and power-loss tests drive. It never decides
protocol behaviour (that is the client's and server's) and never reads wall time itself: time
comes from the clock it is given (virtual by default, `RealClock` for `run_realtime`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.clock import Clock, RealClock, TimerHandle, VirtualClock
from emulator.device.flash import MemoryFlash
from emulator.ota import client as oc
from emulator.ota.client import ClientIdentity, OtaClient
from emulator.ota.frames import Send
from emulator.ota.link import Link, LinkPolicy
from emulator.ota.policy import ClientPolicy, ServerPolicy
from emulator.ota.server import ImageStore, OtaServer

SERVER_ADDRESS = 0x0000
SERVER_IEEE = 0x000D6F0000198B36
CLIENT_ADDRESS = 0x4F2A
DISCOVERY_LATENCY_S = 0.05
SETTLE_S = 1.0


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

    def to_json(self) -> dict[str, Any]:
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
            "events": self.events,
        }


class Simulation:
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
    ) -> None:
        rng = random.Random(seed)
        self.clock: Clock = clock if clock is not None else VirtualClock()
        self.flash = flash if flash is not None else MemoryFlash(running_image)
        self._original_running = self.flash.running
        if store is None:
            store = ImageStore()
            for data in images:
                store.add(data)
        self.store = store
        self.server = OtaServer(store, server_policy, tsn=rng.randrange(256))
        link = link or LinkPolicy()
        self.up = Link(link, random.Random(rng.getrandbits(64)))
        self.down = Link(link, random.Random(rng.getrandbits(64)))
        self.client = OtaClient(
            identity,
            client_policy,
            rng=random.Random(rng.getrandbits(64)),
            verifier=verifier,
            on_transition=self._on_transition,
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
        self.running_changed_early = False
        self._timer: TimerHandle | None = None
        self._on_finish: Callable[[], None] | None = None
        self._powered = False
        self._flash_ops = 0
        self._image_size = 0
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
        if tr.new is oc.State.UPGRADE_VIA_OUT_OF_BAND:
            self._finish("downloaded", "waiting for out-of-band activation")

    # -- driving the client ---------------------------------------------------------------------

    def _feed(self, event: oc.Event) -> None:
        if self.outcome is not None and not isinstance(event, oc.PowerLost | oc.PowerRestored):
            return
        actions = self.client.handle(event, self.clock.now)
        self._apply(actions)

    def _apply(self, actions: list[Any]) -> None:
        for action in actions:
            if not self._powered:
                return  # power went while carrying out this batch: the rest never happened
            kind = type(action)
            if kind is Send:
                self._transmit(self.up, action, self._to_server)
            elif kind is oc.ArmTimer:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = self.clock.call_later(action.delay, self._fire, action.token)
            elif kind is oc.CancelTimer:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            elif kind is oc.WriteSlot:
                self.flash.write_slot(action.offset, action.data)
                self.blocks += 1
                self.bytes += len(action.data)
                end = action.offset + len(action.data)
                if self.progress is not None:
                    self.progress(end, self._image_size)
                if self._flash_op() or self._fraction_reached(end):
                    return
            elif kind is oc.CommitRecord:
                self.flash.commit_record(action.record)
                if action.record is not None:
                    self._image_size = action.record.image_size
                if self._flash_op():
                    return
            elif kind is oc.Activate:
                self._activate(action)
                return
            elif kind is oc.DiscoverServer:
                self.clock.call_later(
                    DISCOVERY_LATENCY_S, self._feed, oc.ServerFound(SERVER_ADDRESS)
                )
            elif kind is oc.ResolveServerEui:
                self.clock.call_later(
                    DISCOVERY_LATENCY_S, self._feed, oc.ServerEuiResolved(SERVER_IEEE)
                )
            elif kind is oc.Outcome:
                self._finish(action.kind, action.reason)

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

    def _fire(self, token: int) -> None:
        self._timer = None
        self._feed(oc.TimerFired(token))

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

    def _boot(self) -> None:
        self._powered = True
        boot = self.flash.boot()
        if self.flash.record_bytes and boot.record is None:
            self.invalid_records += 1
        if self.power_losses:
            self.resumed_from.append(boot.record.file_offset if boot.record is not None else 0)
            self._event("power-restored", record_offset=self.resumed_from[-1])
        self._feed(boot)
        self._feed(oc.Start())

    def _cut_power(self, cut: PowerCut) -> None:
        if not self._powered or self.outcome is not None:
            return
        self._check_running_untouched()
        self.power_losses += 1
        record = self.flash.record
        self.committed_at_cut.append(record.file_offset if record is not None else 0)
        self._event("power-lost", record_offset=self.committed_at_cut[-1])
        self._power_down()
        self.clock.call_later(cut.off_for_s, self._boot)

    def _power_down(self) -> None:
        self._feed(oc.PowerLost())
        self._powered = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_running_untouched(self) -> None:
        """Rule 7: the running image changes only by activation."""
        if self.flash.running != self._original_running:
            self.running_changed_early = True

    def _activate(self, action: oc.Activate) -> None:
        self._check_running_untouched()
        version = self.flash.activate()
        self._original_running = self.flash.running
        self._event("activated", file_version=version)
        self._finish("activated", None)
        self._power_down()  # the device reboots into the new image

    def _finish(self, outcome: str, reason: str | None) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.reason = reason
            self.outcome_time = self.clock.now
            if self._on_finish is not None:
                self._on_finish()

    # -- running -----------------------------------------------------------------------------------

    def run(self) -> SimulationResult:
        """Play to an outcome in virtual time (the clock must be a `VirtualClock`)."""
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("run() needs a VirtualClock; use run_realtime() with a RealClock")
        self._boot()
        limit = self.max_virtual_s
        while self.outcome is None:
            due = clock.next_due()
            if due is None or due > limit:
                break
            clock.step()
        self._finish_without_outcome()
        # Let frames already in the air land (the server logs them); the client is done.
        clock.run_until(clock.now + SETTLE_S)
        return self._result()

    async def run_realtime(self) -> SimulationResult:
        """Play to an outcome in real time on the running asyncio loop (a `RealClock`)."""
        if not isinstance(self.clock, RealClock):
            raise TypeError("run_realtime() needs a RealClock")
        done = asyncio.Event()
        self._on_finish = done.set
        self._boot()
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
        )
