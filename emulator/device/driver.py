"""The one driver of the sans-IO OTA client: it carries out the client's actions.

`ClientDriver` owns an `OtaClient`, its timer, the flash it writes, commits and activates (and
checks that the running image changes only then), and the powered state: booting from flash
(`PowerRestored`, then `Start`), powering down (`PowerLost`, timer cancelled), feeding events only
while powered and dropping the rest of a batch once power goes. What differs between its drivers,
`EmulatedDevice`, is a few named hooks: how a frame is sent, how the server is
found and its EUI resolved, what follows a block write or a commit (progress, power cuts), and
what a boot, an activation, an outcome or a transition means to them.

It never decides protocol behaviour (that is the client's) and never reads wall time: time comes
from the clock it is given.
"""

from __future__ import annotations

import random
from typing import Any

from emulator.clock import Clock, Timer
from emulator.device.flash import MemoryFlash
from emulator.ota import client as oc
from emulator.ota.client import ClientIdentity, OtaClient
from emulator.ota.frames import Send
from emulator.ota.policy import ClientPolicy


class ClientDriver:
    """An OTA client on a flash and a clock; subclasses say how frames and the server travel."""

    def __init__(
        self,
        *,
        clock: Clock,
        flash: MemoryFlash,
        identity: ClientIdentity,
        policy: ClientPolicy | None,
        rng: random.Random,
        verifier: oc.Verifier | None,
    ) -> None:
        self.clock = clock
        self.flash = flash
        self.client = OtaClient(
            identity, policy, rng=rng, verifier=verifier, on_transition=self._on_transition
        )
        self.running_changed_early = False
        self._running = flash.running
        self._timer: Timer | None = None
        self._powered = False
        self._image_size = 0
        self._handling = False
        self._deferred: list[oc.Event] = []

    # -- power ----------------------------------------------------------------------------------

    def power_on(self) -> None:
        """Boot from flash and start the OTA client."""
        self._powered = True
        boot = self.flash.boot()
        self._on_boot(boot)
        self._feed(boot)
        self._feed(oc.Start())

    def power_off(self) -> None:
        """Power goes: the client is told, then its timer dies."""
        if not self._powered:
            return
        self._feed(oc.PowerLost())
        self._powered = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def out_of_band_activate(self) -> None:
        """The out-of-band mechanism (a GB command) allows activation of the waiting image."""
        self._feed(oc.OutOfBandActivate())

    # -- carrying out the client's actions ------------------------------------------------------

    def _feed(self, event: oc.Event) -> None:
        """Hand one event to the client and carry out its actions.

        An event raised from inside the client's own handling (a transition callback, e.g. a GB
        device allowing activation the moment the client enters UPGRADE_VIA_OUT_OF_BAND) waits
        until that handling and its actions are done: the client is never re-entered, and the
        later event's actions (a countdown timer, say) are not overwritten by the earlier one's.
        """
        if self._handling:
            self._deferred.append(event)
            return
        if not (self._powered and self._accepts(event)):
            return
        self._handling = True
        try:
            actions = self.client.handle(event, self.clock.now)
        finally:
            self._handling = False
        self._apply(actions)
        while self._deferred:
            self._feed(self._deferred.pop(0))

    def _apply(self, actions: list[Any]) -> None:
        for action in actions:
            if not self._powered:
                return  # power went while carrying out this batch: the rest never happened
            kind = type(action)
            if kind is Send:
                self._send_frame(action)
            elif kind is oc.ArmTimer:
                self._timer = self.clock.rearm(self._timer, action.delay, self._fire, action.token)
            elif kind is oc.CancelTimer:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            elif kind is oc.WriteSlot:
                self.flash.write_slot(action.offset, action.data)
                if self._on_block_written(action.offset + len(action.data), len(action.data)):
                    return
            elif kind is oc.CommitRecord:
                self.flash.commit_record(action.record)
                if action.record is not None:
                    self._image_size = action.record.image_size
                if self._on_record_committed():
                    return
            elif kind is oc.Activate:
                self._activate()
                return
            elif kind is oc.DiscoverServer:
                self._discover_server()
            elif kind is oc.ResolveServerEui:
                self._resolve_server_eui(action.address)
            elif kind is oc.Outcome:
                self._on_outcome(action.kind, action.reason)

    def _fire(self, token: int) -> None:
        self._timer = None
        self._feed(oc.TimerFired(token))

    def _activate(self) -> None:
        """The client's `Activate`: switch the running image; power goes (the subclass says
        when it comes back, running the new image)."""
        version = self._switch_image()
        self._on_activated(version)
        self.power_off()

    def _switch_image(self) -> int:
        """Make the downloaded image the running one; returns its file version."""
        self._check_running_untouched()
        version = self.flash.activate()
        self._running = self.flash.running
        return version

    def _check_running_untouched(self) -> None:
        """Rule 7: the running image changes only by activation."""
        if self.flash.running != self._running:
            self.running_changed_early = True

    # -- hooks ----------------------------------------------------------------------------------

    def _send_frame(self, send: Send) -> None:
        """Send the client's ZCL frame (after `send.delay`) to `send.dst`."""
        raise NotImplementedError

    def _discover_server(self) -> None:
        """Find the OTA server; answer with `ServerFound` (or `DiscoveryFailed`)."""
        raise NotImplementedError

    def _resolve_server_eui(self, address: int) -> None:
        """Learn the server's EUI-64; answer with `ServerEuiResolved`."""
        raise NotImplementedError

    def _accepts(self, event: oc.Event) -> bool:
        """Whether a powered client is still fed this event."""
        return True

    def _on_boot(self, boot: oc.PowerRestored) -> None:
        """Flash was read at power-up; the client has not been told yet."""

    def _on_block_written(self, end: int, size: int) -> bool:
        """A block of `size` bytes ending at file offset `end` is in the slot. True stops the
        rest of the batch (a power cut was due)."""
        return False

    def _on_record_committed(self) -> bool:
        """The download record is committed. True stops the rest of the batch."""
        return False

    def _on_activated(self, version: int) -> None:
        """The running image is now `version`; power goes next."""

    def _on_outcome(self, kind: oc.OutcomeKind, reason: str | None) -> None:
        """The client says where the download came to."""

    def _on_transition(self, tr: oc.Transition) -> None:
        """The client changed state."""
