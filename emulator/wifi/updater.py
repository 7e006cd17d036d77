"""The device's side of the Wi-Fi route: when to check, what to fetch, and what to do with it.

A `WifiUpdater` belongs to one emulated device on the Wi-Fi route. A proactive device
(`[wifi] mode = "proactive"`) checks every `poll_interval_s` of scenario time, the first one
interval after the run starts; a reactive one checks only when triggered (`trigger`, which the
update server's `POST /devices/<device>/check` calls). A check:

1. fetches the device's manifest over HTTP (aiohttp's client; at most `MAX_MANIFEST_BYTES`); no
   manifest published, or the same bytes as the last check, is no news;
2. judges it (`manifest.check`), fetches the image it names (at most its announced size plus
   one byte), lets the transfer take `size / WIFI_BYTES_PER_S` of scenario time, and judges the
   manifest and image together, then runs the device's own verifier on the image;
3. when the profile has `consent_required`, asks the consumer, who answers after
   `Consent.after_s` unless they never answer ("none"), and gives up after the profile's
   `consent_timeout_s` (an answer that would come later counts as none); `device.consent`
   becomes "accepted", "declined" or "timed-out";
4. installs the image (`device.install(data, "over Wi-Fi")`).

Every refusal is a security finding of severity `info` (an attack the device refused: the model
held) whose kind is the refusal's (`manifest.REFUSALS`, plus `invalid-image` from the device's
verifier), and the firmware stays unchanged; a refusal, a decline and a timeout end the check
(`on_end`, with the reason the report shows). An HTTP failure (no server, a 5xx, a missing
image) is not a verdict: the device tries again at its next check.

It takes time only from the scenario's clock (`call_later`), holds virtual time still while an
HTTP exchange is in flight (`radio.timeloop.time_held`) so a run replays exactly, and never reads
wall time. It never decides what a manifest is worth (`manifest.check` does) and never serves
anything (`emulator.wifi.server`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.clock import Clock
from emulator.device.emulated import EmulatedDevice
from emulator.findings import Severity
from emulator.profiles import DeviceProfile, WifiMode
from emulator.radio.timeloop import time_held
from emulator.wifi.manifest import INVALID_IMAGE, MAX_MANIFEST_BYTES, Recipient, check
from emulator.wifi.server import TRIGGER_ACCEPTED, TRIGGER_UNAVAILABLE

WIFI_BYTES_PER_S = 20_000
"""How fast an image crosses the consumer's broadband and Wi-Fi."""
READ_CHUNK = 65536


class ConsumerAnswer(Protocol):
    """The consumer as a device that asks for consent meets them (`scenario.Consent`)."""

    answer: str
    """ "accept", "decline" or "none" (never answers)."""
    after_s: float


Spawn = Callable[[Coroutine[Any, Any, None]], None]
"""Runs a coroutine as a task the route owns (cancelled when the run ends)."""


class WifiUpdater:
    """One device's Wi-Fi updates: its schedule, its checks and their verdicts."""

    def __init__(
        self,
        device: EmulatedDevice,
        profile: DeviceProfile,
        *,
        clock: Clock,
        session: aiohttp.ClientSession,
        manifest_url: str,
        trusted: Mapping[str, ec.EllipticCurvePublicKey],
        consumer: ConsumerAnswer,
        spawn: Spawn,
    ) -> None:
        self.device = device
        self.profile = profile
        self.clock = clock
        self.session = session
        self.manifest_url = manifest_url
        self.trusted = dict(trusted)
        self.consumer = consumer
        self.spawn = spawn
        self.on_end: Callable[[str], None] = lambda reason: None
        """Called when a check ended without installing, with the reason the report shows."""
        self.checks = 0
        self.checking = False
        self._last_manifest: bytes | None = None
        if profile.wifi.mode is WifiMode.PROACTIVE:
            clock.call_later(profile.wifi.poll_interval_s, self._poll)

    # -- when -----------------------------------------------------------------------------------

    def _poll(self) -> None:
        self.clock.call_later(self.profile.wifi.poll_interval_s, self._poll)
        self._begin("poll")

    def trigger(self) -> tuple[int, str]:
        """Check now (the reactive trigger): an HTTP status and a sentence for the caller."""
        if not self.device.powered:
            return TRIGGER_UNAVAILABLE, "the device is off"
        if self.checking:
            return TRIGGER_ACCEPTED, "a check is already under way"
        self._begin("trigger")
        return TRIGGER_ACCEPTED, "checking now"

    def _begin(self, why: str) -> None:
        if self.checking or not self.device.powered:
            return
        self.checking = True
        self.checks += 1
        self.note("wifi-check", on=why)
        self.spawn(self._check())

    # -- a check --------------------------------------------------------------------------------

    async def _check(self) -> None:
        try:
            await self._run_check()
        finally:
            self.checking = False

    async def _run_check(self) -> None:
        fetched = await self._fetch(self.manifest_url, MAX_MANIFEST_BYTES)
        if fetched is None:
            return
        status, data = fetched
        if status == 404:
            self.note("wifi-no-update", detail="no manifest published")
            return
        if status != 200:
            self.note("wifi-error", detail=f"manifest: HTTP {status}")
            return
        if data == self._last_manifest:
            self.note("wifi-no-update", detail="the manifest has not changed")
            return
        self._last_manifest = data
        verdict = check(data, self._recipient())
        if not verdict.ok:
            self._refuse(verdict.kind or "", verdict.reason)
            return
        manifest = verdict.manifest
        assert manifest is not None
        fetched = await self._fetch(manifest.url, manifest.size)
        if fetched is None or fetched[0] != 200:
            if fetched is not None:
                self.note("wifi-error", detail=f"image: HTTP {fetched[0]}")
            self._last_manifest = None  # try the same manifest again at the next check
            return
        image = fetched[1]
        await self._sleep(len(image) / WIFI_BYTES_PER_S)
        verdict = check(data, self._recipient(), image)
        if not verdict.ok:
            self._refuse(verdict.kind or "", verdict.reason)
            return
        verifier = self.device.client.verifier
        if verifier is not None:
            good, why = verifier(image)
            if not good:
                self._refuse(INVALID_IMAGE, f"the device's own checks refused it: {why}")
                return
        self.note("wifi-verified", file_version=manifest.file_version, signer=manifest.signer)
        if self.profile.consent_required:
            answer = await self._consent()
            self.device.consent = answer
            self.note("consent", answer=answer)
            if answer == "declined":
                self._end("the consumer declined the Wi-Fi update")
                return
            if answer == "timed-out":
                timeout = self.profile.wifi.consent_timeout_s
                self._end(f"no consent: the consumer did not answer within {timeout:g} s")
                return
        self.device.install(image, "over Wi-Fi")

    def _recipient(self) -> Recipient:
        z = self.device.zigbee
        return Recipient(
            device_type=str(self.profile.device_type),
            manufacturer_id=z.manufacturer_id,
            image_type=z.image_type,
            running_version=self.device.flash.running_version,
            storage_size=self.device.client.policy.storage_size,
            trusted=self.trusted,
        )

    async def _consent(self) -> str:
        timeout = self.profile.wifi.consent_timeout_s
        answer, after = self.consumer.answer, self.consumer.after_s
        self.note("consent-asked")
        if answer != "none" and after < timeout:
            await self._sleep(after)
            return "accepted" if answer == "accept" else "declined"
        await self._sleep(timeout)
        return "timed-out"

    def _refuse(self, kind: str, reason: str) -> None:
        self.device.found(
            kind,
            Severity.INFO,
            f"A Wi-Fi update was refused ({reason}); the firmware is unchanged.",
        )
        self._end(f"refused over Wi-Fi: {reason}")

    def _end(self, reason: str) -> None:
        self.note("wifi-ended", reason=reason)
        self.on_end(reason)
        self.device.on_change()

    # -- I/O and time ---------------------------------------------------------------------------

    async def _fetch(self, url: str, limit: int) -> tuple[int, bytes] | None:
        """(status, at most `limit` + 1 bytes of the body), or None when the server cannot be
        reached. Virtual time stands still while the exchange is in flight."""
        try:
            with time_held():
                async with self.session.get(url, allow_redirects=False) as response:
                    chunks: list[bytes] = []
                    total = 0
                    while total <= limit:
                        chunk = await response.content.read(READ_CHUNK)
                        if not chunk:
                            break
                        chunks.append(chunk)
                        total += len(chunk)
                    return response.status, b"".join(chunks)[: limit + 1]
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.note("wifi-error", detail=f"{type(exc).__name__}: {exc}"[:200])
            return None

    async def _sleep(self, seconds: float) -> None:
        """Let `seconds` of scenario time pass (the scenario's clock, not asyncio's sleep)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.clock.call_later(seconds, _finish, done)
        await done

    def note(self, kind: str, **data: Any) -> None:
        """Record an event in the device's report."""
        self.device.events.append({"t": round(self.clock.now, 6), "event": kind, **data})


def _finish(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
