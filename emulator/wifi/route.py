"""The Wi-Fi route of one run: the update server, the devices' updaters, and what campaigns publish.

`WifiRoute` is what the scenario engine starts when any device is on the Wi-Fi route, and what
the head-end hands a Wi-Fi campaign to (`publish`). For each campaign it publishes on the update
server a manifest and an image for the device: the genuine pair, signed by whom the device trusts
(its profile's `[wifi] signer`: the campaign's supplier, or the device's manufacturer), or one of
the rogue variants in `VARIANTS` a home asks for, served as they are so the device must refuse
them. A reactive device whose campaign says `trigger = "supplier"` is then triggered by the
supplier through the server's own `POST /devices/<device>/check`; with `"manual"` only a caller of
that URL (`hanemu home trigger`) does it.

Who signs (test PKI, `emulator.testpki.derive_key`): supplier A and B as "supplier-a" and
"supplier-b", a manufacturer as "manufacturer-<id in hex>", an impostor as "rogue" (`forged`
claims the trusted name and signs as "rogue").

The paper's concern about Wi-Fi on a PPMID (5.2 option 3, footnote 3: an additional attack
vector, "particularly as the PPMID has elevated command privileges on the HAN when compared to a
type 2 device") is a finding (`ATTACK_SURFACE`, severity medium) on every device on this route
that commands the meter on the HAN: a client of a cluster in `HAN_COMMAND_CLUSTERS`. The paper
raises no such concern for the IHD (option 5), and none is recorded for it or for a CAD.

This module owns that glue; it never judges a manifest (`manifest.check`), never decides a
device's answer (`updater`) and never reads wall time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Coroutine
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.clock import Clock
from emulator.device.campaign import PARTIES, profile_image
from emulator.device.emulated import EmulatedDevice
from emulator.device.headend import DeviceCampaign
from emulator.errors import ScenarioError
from emulator.findings import Severity
from emulator.ota.image import parse_header
from emulator.profiles import DeviceProfile, WifiMode, WifiSigner
from emulator.radio.timeloop import time_held
from emulator.testpki import DEFAULT_SEED, derive_key
from emulator.wifi.manifest import Manifest
from emulator.wifi.plan import VARIANTS, WifiPlan
from emulator.wifi.server import TRIGGER_UNAVAILABLE, TRIGGER_UNKNOWN, UpdateServer
from emulator.wifi.updater import ConsumerAnswer, WifiUpdater

TRIGGER_RETRY_S = 60.0
"""Before the supplier triggers again a reactive device that was off."""
TRIGGER_ATTEMPTS = 5
ATTACK_SURFACE = "wifi-attack-surface"
HAN_COMMAND_CLUSTERS = {0x0705: "Prepayment"}
"""Client clusters through which a device commands the meter (the PPMID's elevated HAN
privileges: top-ups, emergency credit, debt), so an internet-facing route is a path to them."""


def manufacturer_signer(profile: DeviceProfile) -> str:
    return f"manufacturer-{profile.zigbee.manufacturer_id:04x}"


def trusted_signers(profile: DeviceProfile) -> tuple[str, ...]:
    """The signer names a device of `profile` trusts on a manifest."""
    if profile.wifi.signer is WifiSigner.MANUFACTURER:
        return (manufacturer_signer(profile),)
    return (PARTIES["A"][0], PARTIES["B"][0])


def attack_surface(profile: DeviceProfile) -> str | None:
    """The finding's sentence when a device of `profile` on the Wi-Fi route commands the meter
    on the HAN, else None."""
    clusters = [
        name
        for endpoint in profile.zigbee.endpoints
        for cluster, name in HAN_COMMAND_CLUSTERS.items()
        if cluster in endpoint.output_clusters
    ]
    if not clusters:
        return None
    return (
        f"Wi-Fi gives this {profile.device_type}, which commands the meter on the HAN "
        f"({', '.join(clusters)} client), an internet-facing interface outside the DCC's "
        "protection: an additional attack vector (options paper 5.2, PPMID option 3)."
    )


class WifiRoute:
    """The update server and every Wi-Fi device's updater, for one run."""

    def __init__(self, clock: Clock, *, pki_seed: int = DEFAULT_SEED) -> None:
        self.clock = clock
        self.pki_seed = pki_seed
        self.server = UpdateServer(self._on_check)
        self.updaters: dict[str, WifiUpdater] = {}
        self.plans: dict[str, WifiPlan] = {}
        self._profiles: dict[str, DeviceProfile] = {}
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self) -> str:
        """Start the update server and the devices' HTTP client; returns the server's URL."""
        url = await self.server.start()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60), trust_env=False
        )
        return url

    async def stop(self) -> None:
        """End every check under way, close the client and stop the server. A check that
        failed with an error that is no HTTP failure (a bug) is raised here."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        await self.server.stop()
        if self._failure is not None:
            raise self._failure

    # -- devices and campaigns ------------------------------------------------------------------

    def add(self, device: EmulatedDevice, profile: DeviceProfile | None, consumer: ConsumerAnswer):
        """Give a device on the Wi-Fi route its updater (after `start`)."""
        if profile is None:
            raise ScenarioError(f"device {device.name}: the Wi-Fi route needs a device profile")
        assert self._session is not None, "start the route before adding devices"
        trusted: dict[str, ec.EllipticCurvePublicKey] = {
            name: derive_key(name, self.pki_seed).public_key() for name in trusted_signers(profile)
        }
        updater = WifiUpdater(
            device,
            profile,
            clock=self.clock,
            session=self._session,
            manifest_url=self.server.manifest_url(device.name),
            trusted=trusted,
            consumer=consumer,
            spawn=self._spawn,
        )
        self.updaters[device.name] = updater
        self._profiles[device.name] = profile
        sentence = attack_surface(profile)
        if sentence is not None:
            device.found(ATTACK_SURFACE, Severity.MEDIUM, sentence)

    def plan(self, device: str, plan: WifiPlan) -> None:
        """What the campaign that addresses `device` publishes for it."""
        self.plans[device] = plan

    def publish(self, campaign: DeviceCampaign, image: bytes) -> None:
        """The head-end's Wi-Fi distribution: publish the campaign's manifest and image for the
        device (as its plan's variant), then trigger a reactive device if the supplier does."""
        device = campaign.device
        updater = self.updaters.get(device.name)
        if updater is None:
            raise ScenarioError(f"device {device.name} is not on the Wi-Fi route")
        profile = self._profiles[device.name]
        plan = self.plans.get(device.name, WifiPlan())
        manifest, described = self._variant(plan.variant, profile, device, image, campaign)
        name = _image_name(device.name, manifest.file_version)
        self.server.publish(
            device.name, manifest.to_bytes(), name, _served(plan.variant, described)
        )
        updater.on_end = lambda reason: _ended(campaign, reason)
        if profile.wifi.mode is WifiMode.REACTIVE and plan.trigger == "supplier":
            self._spawn(self._post_trigger(device.name))

    def _variant(
        self,
        variant: str,
        profile: DeviceProfile,
        device: EmulatedDevice,
        image: bytes,
        campaign: DeviceCampaign,
    ) -> tuple[Manifest, bytes]:
        """(the manifest, signed or not, and the image it describes) for a variant."""
        if variant not in VARIANTS:
            raise ScenarioError(f"unknown Wi-Fi variant {variant!r} ({', '.join(VARIANTS)})")
        supplier = campaign.plan.supplier
        if variant == "downgrade":
            older = max(0, device.flash.running_version - 1)
            image = profile_image(profile, file_version=older, size=4096, supplier=supplier)
        elif variant == "other-device":
            z = profile.zigbee
            other = dataclasses.replace(z, image_type=z.image_type ^ 0x8000)
            image = profile_image(
                dataclasses.replace(profile, zigbee=other),
                file_version=parse_header(image).file_version,
                size=4096,
                supplier=supplier,
            )
        header = parse_header(image)
        manifest = Manifest(
            device_type=str(profile.device_type),
            manufacturer_id=header.manufacturer_id,
            image_type=header.image_type,
            file_version=header.file_version,
            url=self.server.image_url(_image_name(device.name, header.file_version)),
            size=len(image),
            sha256=hashlib.sha256(image).digest(),
        )
        if variant == "unsigned":
            return manifest, image
        claimed, key = self._signer(profile, supplier, wrong=variant == "wrong-signer")
        manifest = manifest.signed(claimed, derive_key(key, self.pki_seed))
        if variant == "bad-signature":
            assert manifest.signature is not None
            flipped = manifest.signature[:-1] + bytes([manifest.signature[-1] ^ 0x01])
            manifest = dataclasses.replace(manifest, signature=flipped)
        return manifest, image

    def _signer(self, profile: DeviceProfile, supplier: str, *, wrong: bool) -> tuple[str, str]:
        """(the name a manifest claims, the test-PKI key that signs it)."""
        by_manufacturer = profile.wifi.signer is WifiSigner.MANUFACTURER
        if wrong:
            name = PARTIES["A"][0] if by_manufacturer else manufacturer_signer(profile)
            return name, name
        trusted = manufacturer_signer(profile) if by_manufacturer else PARTIES["A"][0]
        if supplier == "rogue":
            return "rogue", "rogue"
        if supplier == "forged":
            return trusted, PARTIES["forged"][1]
        if by_manufacturer:
            return trusted, trusted
        return PARTIES[supplier]

    # -- the trigger ----------------------------------------------------------------------------

    def _on_check(self, device: str) -> tuple[int, str]:
        updater = self.updaters.get(device)
        if updater is None:
            known = ", ".join(sorted(self.updaters)) or "none"
            return TRIGGER_UNKNOWN, f"no Wi-Fi device named {device!r} (devices: {known})"
        return updater.trigger()

    async def _post_trigger(self, device: str, attempt: int = 1) -> None:
        """The supplier's trigger, through the server like anyone's; a device that is off is
        tried again `TRIGGER_RETRY_S` later, `TRIGGER_ATTEMPTS` times in all."""
        assert self._session is not None
        status = None
        try:
            with time_held():
                async with self._session.post(self.server.check_url(device)) as response:
                    status = response.status
                    await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.updaters[device].note("wifi-trigger-failed", detail=type(exc).__name__)
            return
        if status == TRIGGER_UNAVAILABLE:
            if attempt < TRIGGER_ATTEMPTS:
                self.clock.call_later(TRIGGER_RETRY_S, self._retrigger, device, attempt + 1)
            else:
                self.updaters[device].note(
                    "wifi-trigger-failed", detail=f"the device was off at {attempt} attempts"
                )

    def _retrigger(self, device: str, attempt: int) -> None:
        self._spawn(self._post_trigger(device, attempt))

    # -- tasks ----------------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()


def _served(variant: str, image: bytes) -> bytes:
    """The bytes the server serves for the image a manifest describes."""
    if variant == "tampered":
        middle = len(image) // 2
        return image[:middle] + bytes([image[middle] ^ 0xFF]) + image[middle + 1 :]
    if variant == "truncated":
        return image[: len(image) // 2]
    return image


def _ended(campaign: DeviceCampaign, reason: str) -> None:
    campaign.ended = reason


def _image_name(device: str, file_version: int) -> str:
    return f"{device}-{file_version:08X}.ota"
