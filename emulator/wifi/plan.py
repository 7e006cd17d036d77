"""What a campaign asks of the Wi-Fi route for a device: which variant the update server serves
(genuine, or a rogue one the device must refuse) and who triggers a reactive device.

Plain data, read by home files (`emulator.homefile`) and carried out by `emulator.wifi.route`;
this module never does I/O and never builds what it names.
"""

from __future__ import annotations

from dataclasses import dataclass

VARIANTS: dict[str, str] = {
    "genuine": "the image and its manifest, signed by whom the device trusts",
    "unsigned": "a manifest with no signature",
    "bad-signature": "a manifest whose signature does not verify (one bit changed)",
    "wrong-signer": "a manifest properly signed by a party the device does not trust (the "
    "manufacturer for a device that trusts its supplier, supplier A for one that trusts its "
    "manufacturer)",
    "tampered": "the genuine manifest, and the image with one byte changed",
    "truncated": "the genuine manifest, and only the first half of the image",
    "downgrade": "a genuine, signed manifest and image one file version below the running one",
    "other-device": "a genuine, signed manifest and image for another image type of the same "
    "manufacturer",
}
"""What the update server can serve a device (a campaign's `wifi` key), with what it is."""
TRIGGERS = ("supplier", "manual")
"""Who triggers a reactive device: the supplier when it publishes, or only a caller of the
server's check URL."""


@dataclass(frozen=True, slots=True)
class WifiPlan:
    """What a campaign asks of the Wi-Fi route for one device."""

    variant: str = "genuine"
    trigger: str = "supplier"
