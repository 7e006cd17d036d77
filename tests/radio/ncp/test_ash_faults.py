"""Stock bellows upgrades a device through the emulated NCP while 1 % of the bytes on the TCP
stream are damaged in both directions (issue 11, acceptance 4).

bellows' `ControllerApplication` talks to `NcpServer` through `CorruptingProxy(rate=0.01)`;
it forms the network, resumes it on a second connection, opens it, has both emulated devices
interviewed and runs zigpy's `update_firmware` on the IHD; the IHD then runs the image byte for
byte. The run is in virtual time and the same every time for a given seed: the proxy's damage
is seeded per direction, bellows' round-trip clock reads the loop, and what bellows and zigpy
would otherwise draw at random (network key, PAN ids, hashed TC link key, the order of the
policies it sets) is fixed.

ASH alone cannot carry a whole session at this noise, and the limits are the peers', not the
NCP's (measured on these runs against UG101 and bellows 1.2.1's `bellows/ash.py`):

- bellows gives one DATA frame 5 tries (NAK or ACK timeout alike) and then ends its session
  (`NcpFailure`, zigpy's `connection_lost`). An Image Block Response (`sendUnicast` with
  zigpy's 50-octet block) is about 93 bytes on the wire, damaged on about 61 % of tries, so
  about 8 % of blocks exhaust bellows' tries: several per OTA of this size. The NCP cannot
  shorten that: it NAKs the first damaged frame at once and, as UG101 and EmberZNet's NCP do,
  stays silent in its reject condition until an in-sequence DATA frame comes.
- The NCP sends ERROR when a 5th ACK timeout in a row passes with the host silent (UG101's
  ACK_TIMEOUTS, 4, is the number allowed). bellows stays silent in its reject condition after
  NAKing one damaged frame, so a response damaged over and over can end a session this way too
  (rarely: 1 ERROR in the 30 runs below).
- bellows reads the child table by asking `getChildData` for every index 0-255 whatever the
  NCP's configured size (it skips NOT_JOINED and never stops early), but only when zigpy makes a
  backup with devices: here once, right after forming, not on a reconnect. Nothing an NCP
  answers changes that.
- zigpy 2.4 has no reconnect of its own: it reports `connection_lost`, and ZHA reloads the
  integration (which would abandon the OTA). `Host` here plays the part of ZHA without the
  reload: a start-up that fails is started again with a new application (as Home Assistant
  retries a config entry), and a session lost while running is reconnected in place
  (`connect` then `initialize`, the two halves of zigpy's own `startup`), so the zigpy device
  objects and the OTA in progress survive, and the NCP must take the new connection's reset
  and carry on: the network formed, the devices joined, the download the IHD is part way
  through. The OTA itself is never restarted: the IHD asks again for the block it missed, and
  zigpy's OTA manager (30 s without progress ends it) answers on the new session.

So the claim is: at 1 % both ways the OTA completes, through bellows' own give-ups and the
host's reconnects, and the NCP carries the network and the download across every new session.
It does not complete on every seed. Measured on seeds 1-30 (this module's `upgrade_through_noise`,
3000-octet payload, EZSP v13): 11 complete (4 to 11 sessions lost on the way, 130-290 virtual
seconds of OTA); 16 end with zigpy's 30 s no-progress timeout, because a bellows give-up (about
10 s of its 5 tries) plus a reconnect plus the IHD's retry period (3 s timeout, 2 s back-off)
outlasts it, or because, with no session lost at all, callbacks held back behind a lost frame
(the host silent in its reject condition, the NCP retransmitting its window each time its
t_rx_ack, doubled towards 3.2 s, expires) make zigpy's own requests time out; 1 ends at once
because zigpy's Image Notify failed on a lost session (zigpy gives up the OTA then); 2 fail
before the OTA (a lost session while bellows permits joining or interviews). Counting a timeout
as the 5th rather than the 4th before ERROR (as EmberZNet does) moved that from 10 to 11; an
ACK timer adapted as EmberZNet's code does (once per acknowledgement that advances,
retransmissions included) measured 7 and is not used. Seed 1 is one of the runs that complete,
and the run is exactly repeatable, so this is a regression test of the recovery path, not a
claim that every noisy run completes.

Stock zigbee-herdsman 10.9.5's ember driver does worse through the same proxy at 1 % (measured
on the wall clock with tests/interop/test_herdsman.py's NCP and interop/herdsman/ota.mjs, EZSP
v13): no OTA completed. Its ASH has no per-frame give-up (NAKs unlimited; 6 ACK timeouts in a
row end it), but it checks its ACK timer only when a frame arrives or it sends, so a host DATA
frame the NCP does not answer (its closing flag damaged; damaged again while the NCP is in its
reject condition; or the NCP's NAK damaged) is retransmitted only once the NCP sends something
else. In start-up nothing else comes, and the command's 14.4 s EZSP timeout is fatal: the
start fails or, once started, the adapter reports `disconnected` and the controller stops
(herdsman never reconnects; Zigbee2MQTT exits). Seeds 1-10 all ended so in start-up, one
session each, after 45 to 964 bytes from the host (15-20 s). With the noise switched on only once
the interview had succeeded (seeds 1-5), the IHD's block-request retries wake herdsman's timer,
but an 88-octet sendUnicast frame is damaged on most tries: every session ended the same way, four
in the download (below 25 %, 19-54 s into it) and one on the permit-join close before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import types
from dataclasses import dataclass, field

import bellows.ash
import pytest
import zigpy.config
from bellows.config import CONF_EZSP_POLICIES
from bellows.ezsp import EZSP
from bellows.zigbee.application import ControllerApplication
from wire import newer_image
from zigpy.zcl import foundation

from emulator.profiles import load_profile
from emulator.radio import timeloop
from emulator.radio.ncp.ash import AshCounters, AshNcp
from emulator.radio.ncp.server import NcpHome, NcpServer
from emulator.scenario import profile_device
from tests.radio.ncp.proxy import TO_CLIENT, TO_TARGET, CorruptingProxy
from tests.radio.ncp.test_bellows import bellows_config, interviewed, zigpy_image

RATE = 0.01
VERSION = 13
SETUP_ATTEMPTS = 5
RECONNECT_ATTEMPTS = 5


def deterministic_config(port: int, version: int) -> dict:
    """`bellows_config` with everything bellows or zigpy would otherwise choose at random fixed:
    the network's identity, and the policies in one order (bellows sets them in the order of a
    dict its schema fills from a set, which follows string hashing)."""
    config = bellows_config(port)
    config[zigpy.config.CONF_NWK].update(
        {
            zigpy.config.CONF_NWK_PAN_ID: 0x1A62,
            zigpy.config.CONF_NWK_EXTENDED_PAN_ID: "dd:dd:dd:dd:dd:dd:dd:dd",
            zigpy.config.CONF_NWK_KEY: list(range(1, 17)),
        }
    )
    schema = EZSP._BY_VERSION[version].SCHEMAS[CONF_EZSP_POLICIES]
    defaults = schema({})
    config[CONF_EZSP_POLICIES] = {name: defaults[name] for name in sorted(defaults)}
    return config


@dataclass
class Host:
    """bellows with what ZHA adds around it: starting again, and reconnecting."""

    config: dict
    setup_failures: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    reconnects: int = 0
    reconnect_failures: list[str] = field(default_factory=list)
    app: ControllerApplication | None = None
    _reconnecting: asyncio.Task[None] | None = None

    async def start(self, *, auto_form: bool) -> ControllerApplication:
        for _ in range(SETUP_ATTEMPTS):
            try:
                self.app = await ControllerApplication.new(self.config, auto_form=auto_form)
            except Exception as exc:  # any start-up failure is tried again, as HA does
                self.setup_failures.append(repr(exc))
                continue
            self.app.add_listener(self)
            return self.app
        raise AssertionError(f"bellows never started: {self.setup_failures}")

    def connection_lost(self, exc: Exception | None) -> None:
        """zigpy's listener event; None is bellows' own disconnect (shutdown, our reconnect)."""
        if exc is None or self.app is None:
            return
        self.lost.append(repr(exc))
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        app = self.app
        assert app is not None
        for _ in range(RECONNECT_ATTEMPTS):
            try:
                await app.disconnect()
                await app.connect()
                await app.initialize(auto_form=False)
                self.reconnects += 1
                return
            except Exception as exc:  # tried again, as a supervisor does
                self.reconnect_failures.append(repr(exc))
                await asyncio.sleep(1)
        raise AssertionError(f"bellows never reconnected: {self.reconnect_failures}")

    async def shutdown(self) -> None:
        app, self.app = self.app, None
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        if app is not None:
            await app.shutdown()


@dataclass
class Outcome:
    status: foundation.Status | None
    installed: bool
    version: int | None
    host: Host
    sessions: list[AshCounters]
    proxy: CorruptingProxy
    ota_seconds: float
    virtual_seconds: float


def upgrade_through_noise(seed: int, *, rate: float = RATE, version: int = VERSION) -> Outcome:
    """Form, resume, permit, interview and `update_firmware` through a proxy that damages
    `rate` of the bytes each way, in virtual time; what happened."""
    specs = [
        profile_device("ihd", load_profile("ihd"), route="local"),
        profile_device("ppmid", load_profile("ppmid-opt1")),
    ]
    randomness = random.Random(seed)

    async def main() -> Outcome:
        loop = asyncio.get_running_loop()
        home = NcpHome(specs, version=version, seed=1)
        sessions: list[AshCounters] = []
        attach = home.ncp.attach

        def attach_recording(send):  # each connection's ASH counters, in order
            session = send.__self__
            assert isinstance(session, AshNcp)
            sessions.append(session.counters)
            attach(send)

        home.ncp.attach = attach_recording  # type: ignore[method-assign]
        server = NcpServer(home, port=0)
        port = await server.start()
        proxy = CorruptingProxy("127.0.0.1", port, rate=rate, seed=seed)
        _, proxy_port = await proxy.start()
        host = Host(deterministic_config(proxy_port, version))
        ihd = home.device("ihd")
        z = ihd.spec.zigbee
        data = newer_image(z, size=3000, seed=3, header_string="hanemu over EZSP")
        status = None
        ota_seconds = 0.0
        try:
            app = await host.start(auto_form=True)  # forms
            await host.shutdown()
            app = await host.start(auto_form=False)  # resumes
            await app.permit(60)
            await interviewed(app, [d.node.ieee for d in home.devices])
            started = loop.time()
            status = await app.devices[ihd.node.ieee].update_firmware(zigpy_image(data))
            ota_seconds = loop.time() - started
            await host.shutdown()
        finally:
            await host.shutdown()
            await proxy.close()
            await server.stop()
        return Outcome(
            status=status,
            installed=ihd.device.flash.running == data,
            version=ihd.device.flash.running_version,
            host=host,
            sessions=sessions,
            proxy=proxy,
            ota_seconds=ota_seconds,
            virtual_seconds=loop.time(),
        )

    with _deterministic_host(randomness):
        return timeloop.run(main())


@contextlib.contextmanager
def _deterministic_host(rng: random.Random):
    """bellows' round-trip clock on the loop's time, and os.urandom (bellows' hashed TC link
    key) from the seed; both put back afterwards."""
    saved_time, saved_urandom = bellows.ash.time, os.urandom

    class _LoopClock:
        @staticmethod
        def monotonic() -> float:
            return asyncio.get_running_loop().time()

    bellows.ash.time = types.SimpleNamespace(monotonic=_LoopClock.monotonic)  # type: ignore[assignment]
    os.urandom = rng.randbytes  # type: ignore[assignment]
    try:
        yield
    finally:
        bellows.ash.time, os.urandom = saved_time, saved_urandom


def total(sessions: list[AshCounters], name: str) -> int:
    return sum(getattr(counters, name) for counters in sessions)


@pytest.fixture(scope="module")
def noisy_run() -> Outcome:
    return upgrade_through_noise(seed=1)


def test_update_firmware_completes_with_one_percent_of_bytes_damaged_both_ways(noisy_run):
    run = noisy_run
    assert run.status == foundation.Status.SUCCESS
    assert run.installed  # the running image is the file, byte for byte
    assert run.version == load_profile("ihd").zigbee.firmware_version + 1


def test_the_line_was_noisy_and_ash_recovered_on_both_sides(noisy_run):
    run = noisy_run
    for direction in (TO_TARGET, TO_CLIENT):
        stats = run.proxy.stats[direction]
        assert stats.bytes > 20_000
        assert 0.007 < stats.corrupted / stats.bytes < 0.013
    assert total(run.sessions, "bad_frames") > 50  # damaged host frames the NCP threw away
    assert total(run.sessions, "naks_sent") > 0
    assert total(run.sessions, "naks_received") > 0  # bellows NAKed damaged NCP frames
    assert total(run.sessions, "retransmissions") > total(run.sessions, "naks_received")
    assert total(run.sessions, "duplicates") > 0  # host retransmissions of frames that had come


def test_the_session_survives_bellows_giving_up_by_reconnecting(noisy_run):
    run = noisy_run
    lost = run.host.lost
    assert lost, "no session was lost: the line was not noisy enough to test recovery"
    assert all("NcpFailure" in reason for reason in lost)
    assert run.host.reconnects >= 1
    # Every start and every reconnect is a new TCP connection, with its own ASH session that
    # starts with a reset, to the same NCP: two for forming and resuming, one per start-up
    # that failed, one per reconnect and per reconnect that failed.
    host = run.host
    assert len(run.sessions) == (
        2 + len(host.setup_failures) + host.reconnects + len(host.reconnect_failures)
    )
    assert all(counters.resets >= 1 for counters in run.sessions)


def test_the_run_is_the_same_every_time(noisy_run):
    again = upgrade_through_noise(seed=1)
    assert again.virtual_seconds == noisy_run.virtual_seconds
    assert again.sessions == noisy_run.sessions
    assert again.host.lost == noisy_run.host.lost
    assert again.proxy.stats == noisy_run.proxy.stats
