"""Every shipped device profile's OTA client policy runs a download to activation."""

from __future__ import annotations

import pytest
from simulation import Simulation

from emulator.ota.client import ClientIdentity
from emulator.ota.image import build_image
from emulator.profiles import load_all, profile_names


@pytest.mark.parametrize("name", profile_names())
def test_profile_client_policy_downloads_and_activates(name):
    (profile,) = [p for p in load_all() if p.name == name]
    z = profile.zigbee
    version = z.firmware_version
    running = build_image(
        b"old", manufacturer_id=z.manufacturer_id, image_type=z.image_type, file_version=version
    )
    new = build_image(
        bytes(range(256)) * 16,
        manufacturer_id=z.manufacturer_id,
        image_type=z.image_type,
        file_version=version + 1,
        integrity=True,
        min_hw=z.hardware_version,
        max_hw=z.hardware_version,
    )
    sim = Simulation(
        running_image=running,
        images=[new],
        seed=1,
        client_policy=profile.ota,
        identity=ClientIdentity(z.manufacturer_id, z.image_type),
    )
    result = sim.run()
    expected = "activated" if profile.ota.activation_policy == "server" else "downloaded"
    assert result.outcome == expected, result.reason
    if expected == "activated":
        assert result.running_image == new
