"""One device against the hub on the direct air, driven the way the OTA and GB tests read best.

`Simulation(...)` takes the test's pieces (running image, the image offered, identity, policies,
link faults, power cuts, a GB profile and activation plan) and builds a `Scenario` of one device;
`run()` plays it with the one scenario engine and returns the device's report with the scenario's
`virtual_seconds`. After the run, `server`, `gb`, `flash`, `client`, `alerts` and the device's
links are there to inspect. No mocks: every piece is the real one.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from emulator.device.campaign import ActivationPlan, seconds_at
from emulator.device.emulated import EmulatedDevice, PowerCut
from emulator.device.flash import MemoryFlash
from emulator.device.gbdevice import client_policy as gb_client_policy
from emulator.device.report import DeviceReport
from emulator.ota import client as oc
from emulator.ota.client import ClientIdentity
from emulator.ota.image import parse_header
from emulator.ota.link import LinkPolicy
from emulator.ota.policy import ClientPolicy, ServerPolicy
from emulator.profiles import DeviceProfile
from emulator.scenario import (
    DEFAULT_DURATION_S,
    FUTURE_MARGIN_S,
    CampaignSpec,
    DeviceSpec,
    Scenario,
    ScenarioRun,
    plain_identity,
    profile_device,
)


class Simulation:
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
        max_virtual_s: float = DEFAULT_DURATION_S,
        flash: MemoryFlash | None = None,
        gb_profile: DeviceProfile | None = None,
        plan: ActivationPlan | None = None,
        headend_at: float | None = None,
        realtime: bool = False,
        hold_until: float | None = None,
    ) -> None:
        (image,) = images
        version = parse_header(running_image).file_version
        if gb_profile is not None:
            device: DeviceSpec = profile_device(
                "device",
                gb_profile,
                route="dcc",
                firmware_version=version,
                policy=client_policy or gb_client_policy(gb_profile),
                power_cuts=tuple(power_cuts),
                ieee=identity.ieee,
                running_image=running_image,
                verifier=verifier,
                flash=flash,
            )
        else:
            device = DeviceSpec(
                name="device",
                zigbee=plain_identity(identity.manufacturer_id, identity.image_type, version),
                policy=client_policy or ClientPolicy(),
                power_cuts=tuple(power_cuts),
                running_image=running_image,
                verifier=verifier,
                flash=flash,
                ieee=identity.ieee,
            )
        plan = plan or ActivationPlan(mode="auto" if gb_profile is not None else "none")
        if plan.at is not None and not plan.cancel:
            max_virtual_s = max(max_virtual_s, seconds_at(plan.at) + FUTURE_MARGIN_S)
        self.scenario = Scenario(
            name="test",
            devices=(device,),
            campaigns=(CampaignSpec(("device",), image=image, plan=plan, activate_at=headend_at),),
            server=server_policy or ServerPolicy(),
            faults=link or LinkPolicy(),
            duration=max_virtual_s,
            seed=seed,
        )
        self.realtime = realtime
        self.hold_until = hold_until
        self.on_device: list[Callable[[EmulatedDevice], None]] = []

    def run(self) -> Any:
        """Play the scenario; the device's report, with the scenario's `virtual_seconds`."""
        self.engine = ScenarioRun(self.scenario, None, None)
        self.engine.on_device = self.on_device
        self.engine.hold_until = self.hold_until
        report = self.engine.run(realtime=self.realtime)
        (self.device_report,) = report.devices
        (_spec, self.device) = self.engine.devices[0]
        return result(self.device_report, report.virtual_seconds)

    # -- what the tests inspect after a run -----------------------------------------------------

    @property
    def server(self):
        return self.engine.hub.server

    @property
    def gb(self):
        return self.device.gb

    @property
    def flash(self) -> MemoryFlash:
        return self.device.flash

    @property
    def client(self) -> oc.OtaClient:
        return self.device.client

    @property
    def alerts(self) -> list[str]:
        return self.device_report.alerts

    @property
    def up(self):
        return self.device.port.up

    @property
    def down(self):
        return self.device.port.down


class Result(types.SimpleNamespace):
    """A device report as the tests read it: every field, plus the scenario's time."""

    def to_json(self) -> dict[str, Any]:
        return {**self.report.to_json(), "virtual_seconds": self.virtual_seconds}


def result(report: DeviceReport, virtual_seconds: float) -> Result:
    values = {f.name: getattr(report, f.name) for f in fields(report)}
    return Result(**values, report=report, virtual_seconds=virtual_seconds)
