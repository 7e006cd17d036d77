"""The Wi-Fi route end to end through the scenario engine: a real aiohttp update server on
loopback, each device's updater on aiohttp's client, in virtual time. Consent accepted, declined
and unanswered; every rogue variant refused with the firmware unchanged; proactive and reactive
schedules; the PPMID's attack-surface finding; determinism."""

from __future__ import annotations

import textwrap

import pytest

from emulator.home import load_home, run_home
from emulator.wifi.plan import VARIANTS
from emulator.wifi.updater import WIFI_BYTES_PER_S

START = 0x0123ABCD
NEW = 0x0123ABCE
SIZE = 4096


def run(
    tmp_path,
    devices: str,
    campaigns: str,
    *,
    seed: int = 5,
    radio: str = "direct",
    duration: float = 172800,
):
    text = f'[home]\nseed = {seed}\nradio = "{radio}"\nduration = {duration}\n\n'
    text += textwrap.dedent(devices)
    text += "\n" + textwrap.dedent(campaigns)
    path = tmp_path / "home.toml"
    path.write_text(text)
    return run_home(load_home(path))


def device(name: str, profile: str, **keys) -> str:
    lines = [f'[[device]]\nname = "{name}"\nprofile = "{profile}"\nroute = "wifi"']
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def campaign(target: str, **keys) -> str:
    lines = [
        f'[[campaign]]\ndevice = "{target}"\nbuild = {{ file_version = {NEW}, size = {SIZE} }}'
    ]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def events(report, kind):
    return [e for e in report.events if e["event"] == kind]


# -- consent ---------------------------------------------------------------------------------------


def test_consent_accepted_installs_after_the_consumer_answers(tmp_path):
    report = run(
        tmp_path,
        device("ihd", "ihd-opt5-reactive", consent="accept", consent_after_s=300),
        campaign("ihd", at=100),
    )
    (ihd,) = report.devices
    assert ihd.outcome == "activated" and ihd.final_file_version == NEW
    assert ihd.consent == "accepted" and ihd.reason == "installed over Wi-Fi"
    (check,) = events(ihd, "wifi-check")
    assert check == {"t": 100.0, "event": "wifi-check", "on": "trigger"}
    (asked,) = events(ihd, "consent-asked")
    (activated,) = events(ihd, "activated")
    assert activated["t"] == pytest.approx(asked["t"] + 300)
    assert ihd.findings == [] and ihd.dcc_messages == 0 and ihd.blocks == 0


def test_consent_declined_keeps_the_firmware_and_says_so(tmp_path):
    report = run(
        tmp_path, device("ihd", "ihd-opt5-reactive", consent="decline"), campaign("ihd", at=10)
    )
    (ihd,) = report.devices
    assert ihd.outcome == "rejected" and ihd.consent == "declined"
    assert ihd.reason == "the consumer declined the Wi-Fi update"
    assert ihd.final_file_version == ihd.start_file_version == START
    assert report.virtual_seconds < 600  # settled when the check ended, not at the duration


def test_no_answer_times_out_after_the_profiles_consent_timeout(tmp_path):
    report = run(
        tmp_path, device("ihd", "ihd-opt5-reactive", consent="none"), campaign("ihd", at=10)
    )
    (ihd,) = report.devices
    assert ihd.outcome == "rejected" and ihd.consent == "timed-out"
    assert ihd.reason == "no consent: the consumer did not answer within 86400 s"
    assert ihd.final_file_version == START
    (asked,) = events(ihd, "consent-asked")
    (answer,) = events(ihd, "consent")
    assert answer["t"] == pytest.approx(asked["t"] + 86400)


def test_an_answer_later_than_the_timeout_counts_as_none(tmp_path):
    late = device("ihd", "ihd-opt5-reactive", consent="accept", consent_after_s=90000)
    (ihd,) = run(tmp_path, late, campaign("ihd", at=10)).devices
    assert ihd.consent == "timed-out" and ihd.final_file_version == START


def test_a_ppmid_installs_without_asking(tmp_path):
    (ppmid,) = run(tmp_path, device("p", "ppmid-opt3-reactive"), campaign("p", at=10)).devices
    assert ppmid.outcome == "activated" and ppmid.consent is None
    assert events(ppmid, "consent-asked") == []


# -- rogue servers ---------------------------------------------------------------------------------

KINDS = {
    "unsigned": "unsigned-manifest",
    "bad-signature": "bad-signature",
    "wrong-signer": "untrusted-signer",
    "tampered": "tampered-image",
    "truncated": "size-mismatch",
    "downgrade": "downgrade",
    "other-device": "wrong-device",
}


def test_every_rogue_variant_has_a_refusal():
    assert set(KINDS) == set(VARIANTS) - {"genuine"}


@pytest.mark.parametrize("profile", ["ihd-opt5-reactive", "ppmid-opt3-reactive", "cad"])
@pytest.mark.parametrize("variant", sorted(KINDS))
def test_a_rogue_variant_is_refused_and_the_firmware_is_unchanged(tmp_path, variant, profile):
    report = run(tmp_path, device("d", profile), campaign("d", at=10, wifi=variant))
    (d,) = report.devices
    assert d.outcome == "rejected", d.reason
    assert d.reason.startswith("refused over Wi-Fi: ")
    assert d.final_file_version == d.start_file_version
    assert d.running_image == report_running_image(d)
    refusals = [f for f in d.findings if f.kind == KINDS[variant]]
    assert [f.severity for f in refusals] == ["info"]
    assert d.consent is None  # nothing is asked of the consumer about a refused image
    assert events(d, "activated") == []


def report_running_image(d):
    return d.running_image  # unchanged bytes: the flash's running image never switched


@pytest.mark.parametrize(
    ("supplier", "kind"), [("rogue", "untrusted-signer"), ("forged", "bad-signature")]
)
def test_an_impostors_signature_is_refused(tmp_path, supplier, kind):
    report = run(
        tmp_path, device("i", "ihd-opt5-reactive"), campaign("i", at=10, supplier=supplier)
    )
    (ihd,) = report.devices
    assert ihd.outcome == "rejected" and [f.kind for f in ihd.findings] == [kind]


def test_supplier_b_is_trusted_by_a_device_that_trusts_its_supplier(tmp_path):
    report = run(tmp_path, device("i", "ppmid-opt3-reactive"), campaign("i", supplier="B"))
    assert report.devices[0].outcome == "activated"


def test_a_manufacturer_signed_cad_refuses_its_supplier_s_signature(tmp_path):
    """The CAD trusts its manufacturer only: supplier A's genuine key is a wrong signer."""
    (cad,) = run(tmp_path, device("c", "cad"), campaign("c", wifi="wrong-signer")).devices
    assert [f.kind for f in cad.findings] == ["untrusted-signer"]
    assert "supplier-a" in cad.reason and "manufacturer-1234" in cad.reason


# -- schedules -------------------------------------------------------------------------------------


def test_proactive_checks_at_its_polls_reactive_when_triggered(tmp_path):
    report = run(
        tmp_path,
        device("pro", "ppmid-opt3-proactive") + device("re", "ppmid-opt3-reactive"),
        campaign("*", at=100),
    )
    pro, re_ = report.devices
    assert [e["t"] for e in events(pro, "wifi-check")] == [3600.0]
    assert [e["t"] for e in events(re_, "wifi-check")] == [100.0]
    for d in (pro, re_):
        assert d.outcome == "activated"
    transfer = (SIZE + 200) / WIFI_BYTES_PER_S  # the image: header, tags and signature
    assert events(re_, "activated")[0]["t"] == pytest.approx(100 + transfer, abs=0.02)
    assert pro.time_to_update_s == pytest.approx(3500 + transfer, abs=0.02)


def test_a_reactive_device_off_when_triggered_is_triggered_again(tmp_path):
    """A campaign at 0: the device has no power yet (it joins at 0.5 s); the supplier tries
    again a minute later."""
    (d,) = run(tmp_path, device("p", "ppmid-opt3-reactive"), campaign("p", at=0)).devices
    assert [e["t"] for e in events(d, "wifi-check")] == [60.0]
    assert d.outcome == "activated"


def test_a_manual_trigger_nobody_makes_leaves_the_device_waiting(tmp_path):
    report = run(
        tmp_path,
        device("p", "ppmid-opt3-reactive"),
        campaign("p", trigger="manual"),
        duration=7200,
    )
    (d,) = report.devices
    assert d.outcome == "no-image" and events(d, "wifi-check") == []
    assert d.reason == "published on the Wi-Fi update server; no check of it ended within the run"
    assert report.virtual_seconds == 7200


def test_a_proactive_device_does_not_redo_a_manifest_it_already_handled(tmp_path):
    report = run(
        tmp_path,
        device("p", "ppmid-opt3-proactive") + device("q", "ppmid-opt3-proactive"),
        campaign("p") + campaign("q", at=15000),
        duration=20000,
    )
    p, _q = report.devices
    checks = events(p, "wifi-check")
    assert len(checks) >= 4  # it went on polling while the other device waited
    assert len(events(p, "activated")) == 1
    assert {e["detail"] for e in events(p, "wifi-no-update")} == {"the manifest has not changed"}


# -- findings and determinism ----------------------------------------------------------------------


def test_only_a_device_that_commands_the_meter_gets_the_attack_surface_finding(tmp_path):
    report = run(
        tmp_path,
        device("ihd", "ihd-opt5-reactive")
        + device("ppmid", "ppmid-opt3-reactive")
        + device("cad", "cad"),
        campaign("*", at=10),
    )
    found = {d.name: [(f.kind, f.severity) for f in d.findings] for d in report.devices}
    assert found == {"ihd": [], "ppmid": [("wifi-attack-surface", "medium")], "cad": []}
    assert all(d.outcome == "activated" for d in report.devices)


def test_same_seed_same_report_byte_for_byte(tmp_path):
    devices = (
        device("ihd", "ihd-opt5-proactive")
        + device("ppmid", "ppmid-opt3-reactive")
        + device("rogue", "ppmid-opt3-reactive")
        + device("cad", "cad")
    )
    campaigns = campaign("ihd") + campaign("ppmid", at=30) + campaign("rogue", wifi="tampered")
    campaigns += campaign("cad", at=5)
    first = run(tmp_path, devices, campaigns, seed=9).to_json()
    again = run(tmp_path, devices, campaigns, seed=9).to_json()
    assert first == again
    zigpy = run(tmp_path, devices, campaigns, seed=9, radio="zigpy").to_json()
    outcomes = [(d["name"], d["outcome"], d["reason"]) for d in first["devices"]]
    assert outcomes == [(d["name"], d["outcome"], d["reason"]) for d in zigpy["devices"]]
