"""A hypothesis state machine over one GB device (ihd-opt1: Critical CS06 activation), the hub's
OTA server and the air between them, stepped by a VirtualClock.

Rules offer images (valid, wrong manufacturer, tampered), advance time, drop, duplicate or
corrupt the next frames on the air, cut power, and send CS06 (authorised with the right hash,
a wrong hash, a rogue signer, a forged signature). Invariants, checked after every clock event:
the running image changes only through an authorised activation carrying its hash; FileOffset
never goes backwards inside one download (only at a documented reset: the client left DOWNLOAD
for a new query, a refusal or a power-loss reboot); no exception other than the project's own
escapes; the download slot never outgrows the largest image offered.

CI runs the active profile (ci: derandomized, a fixed seed); HYPOTHESIS_PROFILE=full runs many
more programs of more steps.
"""

from __future__ import annotations

import hashlib
import os

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from wire import Wire, WirePort, device_of

from emulator.clock import VirtualClock
from emulator.device.campaign import ActivationPlan, profile_image
from emulator.device.emulated import EmulatedDevice
from emulator.device.gbdevice import manufacturer_image
from emulator.errors import HanemuError
from emulator.gbcs.headend import HeadEnd
from emulator.ota import client as oc
from emulator.ota.image import build_image, parse_header
from emulator.profiles import load_profile
from emulator.testpki import derive_key

PROFILE = "ihd-opt1"
IMAGE_SIZE = 600
FULL = os.environ.get("HYPOTHESIS_PROFILE") == "full"


class FaultyWire(Wire):
    """The recording wire with a queue of faults applied to the next frames, either way."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(clock)
        self.faults: list[str] = []

    def fault(self, data: bytes) -> list[bytes]:
        """The copies of `data` that arrive under the next queued fault."""
        kind = self.faults.pop(0) if self.faults else "pass"
        if kind == "drop":
            return []
        if kind == "duplicate":
            return [data, data]
        if kind == "corrupt" and data:
            index = len(data) // 2
            return [data[:index] + bytes([data[index] ^ 0x10]) + data[index + 1 :]]
        return [data]

    def attach(self, device: EmulatedDevice) -> WirePort:
        port = FaultyPort(self, device)
        self.ports[device.nwk] = port
        device.port = port
        return port

    def hub_send(self, nwk: int, cluster: int, data: bytes, endpoint: int | None) -> None:
        for copy in self.fault(data):
            super().hub_send(nwk, cluster, copy, endpoint)


class FaultyPort(WirePort):
    def _up(self, cluster: int, data: bytes, delay: float = 0.0) -> None:
        assert isinstance(self.wire, FaultyWire)
        for copy in self.wire.fault(data):
            super()._up(cluster, copy, delay)


class OtaMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.clock = VirtualClock()
        self.wire = FaultyWire(self.clock)
        self.device = device_of(self.clock, PROFILE)
        self.wire.attach(self.device)
        self.profile = load_profile(PROFILE)
        self.config = self.device.gb.handler.config
        self.headend = HeadEnd(derive_key("acb"))
        self.valid: list[bytes] = []
        """Valid images offered (signed by supplier A, for this device)."""
        self.authorised: set[bytes] = set()
        """Hashes carried by CS06 commands from a supplier in the device's slots."""
        self.largest = 0
        self.running = self.device.flash.running
        self.offset = self.device.client.file_offset
        self.version = self.device.client.downloaded_file_version
        self.seen_events = 0
        self.guarded(self.device.power_on)

    # -- running the code under test ----------------------------------------------------------

    def guarded(self, action, *args) -> None:
        """Run `action`; an exception other than the project's own is a failure."""
        try:
            action(*args)
        except HanemuError:
            raise  # the project's own, but nothing in a run should raise at all: report it
        except Exception as exc:
            raise AssertionError(f"a non-project exception escaped: {exc!r}") from exc

    def step_to(self, when: float) -> None:
        while True:
            self.guarded(self._step_before, when)
            if not self._stepped:
                break
            self.check()
        self.clock.run_until(when)

    def _step_before(self, when: float) -> None:
        self._stepped = self.clock.step_before(when)

    # -- rules ----------------------------------------------------------------------------------

    @rule(
        kind=st.sampled_from(["valid", "valid", "wrong-manufacturer", "tampered"]),
        bump=st.integers(1, 3),
        then_s=st.sampled_from([0.0, 0.5, 300.0, 300.0]),
    )
    def offer(self, kind: str, bump: int, then_s: float) -> None:
        """Offer an image (Image Notify), then let `then_s` seconds pass."""
        version = parse_header(self.device.flash.running).file_version + bump
        image = profile_image(self.profile, file_version=version, size=IMAGE_SIZE)
        if kind == "valid":
            self.valid.append(image)
        elif kind == "wrong-manufacturer":
            header = parse_header(image)
            image = build_image(
                b"x" * IMAGE_SIZE,
                manufacturer_id=(header.manufacturer_id + 1) & 0xFFFF,
                image_type=header.image_type,
                file_version=version,
            )
        else:
            raw = bytearray(image)
            raw[len(raw) // 2] ^= 0x01
            image = bytes(raw)
        self.largest = max(self.largest, len(image))
        self.guarded(self.wire.hub.offer, self.device.nwk, image)
        self.step_to(self.clock.now + then_s)

    @rule(seconds=st.sampled_from([0.05, 1.0, 10.0, 60.0, 600.0]))
    def advance(self, seconds: float) -> None:
        self.step_to(self.clock.now + seconds)

    @rule(kind=st.sampled_from(["drop", "duplicate", "corrupt"]), count=st.integers(1, 5))
    def fault_next_frames(self, kind: str, count: int) -> None:
        self.wire.faults.extend([kind] * count)

    @rule(in_s=st.sampled_from([0.0, 0.3, 2.0]), off_s=st.sampled_from([0.5, 5.0, 30.0]))
    def cut_power(self, in_s: float, off_s: float) -> None:
        """Cut power `in_s` seconds from now (mid-download when one runs) for `off_s`."""
        self.clock.call_later(in_s, self._cut, off_s)

    def _cut(self, off_s: float) -> None:
        if self.device.powered:
            self.device.power_off()
            self.clock.call_later(off_s, self.device.power_on)

    @rule(
        kind=st.sampled_from(["right", "right", "wrong-hash", "rogue", "forged"]),
        critical=st.booleans(),
        then_s=st.sampled_from([0.0, 30.0]),
    )
    def activate(self, kind: str, critical: bool, then_s: float) -> None:
        """Send a CS06 through the hub's tunnel, then let `then_s` seconds pass."""
        if self.valid and kind != "wrong-hash":
            image_hash = hashlib.sha256(manufacturer_image(self.valid[-1])).digest()
        else:
            image_hash = hashlib.sha256(b"not an image anyone sent").digest()
        supplier = {"right": "A", "wrong-hash": "A", "rogue": "rogue", "forged": "forged"}[kind]
        plan = ActivationPlan(mode="critical" if critical else "non-critical", supplier=supplier)
        (command,) = plan.commands(
            self.config.device_id,
            self.config.ka_key.public_key(),
            image_hash,
            headend=self.headend,
        )
        if supplier == "A" and critical:
            self.authorised.add(image_hash)
        self.guarded(self.wire.hub.send_tunnel, self.device.nwk, command)
        self.step_to(self.clock.now + then_s)

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def check(self) -> None:
        self.check_running_image()
        self.check_file_offset()
        self.check_memory()

    def check_running_image(self) -> None:
        running = self.device.flash.running
        if running == self.running:
            return
        assert running in self.valid, "the running image became one that was never offered valid"
        image_hash = hashlib.sha256(manufacturer_image(running)).digest()
        assert image_hash in self.authorised, (
            f"running image changed to version {parse_header(running).file_version:#x} with no "
            "authorised CS06 carrying its hash"
        )
        self.running = running

    def check_file_offset(self) -> None:
        client = self.device.client
        events = self.device.events[self.seen_events :]
        self.seen_events = len(self.device.events)
        left_download = any(
            e["event"] == "transition" and e["to"] != oc.State.DOWNLOAD.value for e in events
        ) or any(e["event"] != "transition" and "power" in e["event"] for e in events)
        offset, version = client.file_offset, client.downloaded_file_version
        if (
            client.state is oc.State.DOWNLOAD
            and version == self.version
            and not left_download
            and offset != oc.NO_VERSION
            and self.offset != oc.NO_VERSION
        ):
            assert offset >= self.offset, (
                f"FileOffset went back from {self.offset} to {offset} inside one download"
            )
        self.offset, self.version = offset, version

    def check_memory(self) -> None:
        bound = max(self.largest, len(self.device.flash.running))
        assert len(self.device.flash.slot) <= bound, (
            f"download slot holds {len(self.device.flash.slot)} bytes, images are at most {bound}"
        )
        assert len(self.device.client._slot) <= bound


OtaMachine.TestCase.settings = settings(
    settings(),  # the active profile: ci derandomizes it
    max_examples=300 if FULL else 15,
    stateful_step_count=60 if FULL else 25,
)
test_ota_state_machine = OtaMachine.TestCase
