"""What one device's firmware update came to: the one outcome rule, the one settle rule and the
one report type, for every air and every face (`ota simulate`, `home run`, fleets).

`settled` says when nothing more will happen to a device without new input: the run may end.
`judge` turns a device and the head-end's record of its campaign into an `OutcomeKind` and an honest
reason (naming frames the air refused as too big for one 802.15.4 frame, when it did);
`device_report` into a `DeviceReport`. This module only reads the device and the
head-end; it never changes either and never reads wall time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.device.campaign import ActivationMode
from emulator.device.emulated import EmulatedDevice
from emulator.device.headend import DeviceCampaign
from emulator.findings import Finding
from emulator.framesize import OVERSIZE_EVENT
from emulator.ota import client as oc
from emulator.ota.client import OutcomeKind
from emulator.profiles import Route

RESPONSE_CODE_NAMES = {0: "success", 1: "noImageHeld", 2: "hashMismatch", 3: "activationFailure"}
"""activateImageResponseCode names as GBCS spells them."""


def settled(device: EmulatedDevice, campaign: DeviceCampaign | None, *, on_han: bool) -> bool:
    """Nothing more will happen to this device unless something new arrives. A device no
    campaign addresses is done once its routine query was answered (at once when it does not
    take firmware over the HAN)."""
    if device.busy:
        return False
    if campaign is None:
        return not on_han or device.client_outcome is not None
    if not campaign.distributed or campaign.scheduled:
        return False
    if device.activated or campaign.refused is not None or campaign.ended is not None:
        return True
    said = device.client_outcome
    if said is not None and said[0] in (OutcomeKind.REJECTED, OutcomeKind.FAILED):
        return True  # a device that failed retries on its own: its latest word is reported
    if device.client.state is oc.State.UPGRADE_VIA_OUT_OF_BAND:
        return device.gb is None or campaign.activation_over
    return False


def _command_verdicts(device: EmulatedDevice, commands: list[dict[str, Any]]) -> None:
    """Give each command the device's verdict on it (the first of its attempts that reached a
    powered device), matching by originator counter in the order they were received."""
    received = list(device.gbcs_received)
    shown = [e for e in device.events if e.get("event") == "display-message" and "verdict" in e]
    for command in commands:
        if command["kind"] == "display-message":  # the ESME's text: matched by its words
            seen = next((e for e in shown if e["text"] == command["text"]), None)
            if seen is not None:
                shown.remove(seen)
                command["verdict"] = seen["verdict"]
            continue
        key = command.get("counter")
        taken = [
            r
            for r in received
            if (r.get("kind") == "hub-instruction") == (command["kind"] == "hub-instruction")
            and (key is None or r.get("counter") == key)
        ][: command.get("attempts", 0)]
        for entry in taken:
            received.remove(entry)
        processed = [r for r in taken if r.get("verdict") is not None]
        if processed:
            command["t"] = processed[0]["t"]
            command["verdict"] = processed[0]["verdict"]
            if "detail" in processed[0]:
                command["detail"] = processed[0]["detail"]


_SOURCES = {"hub-instruction": "Comms Hub activation", "display-message": "Display Message"}
"""How a refused command that is not a CS06 is named in a reason."""
_NAMED_PARTY = frozenset({"not-lead-supplier"})
"""Verdicts whose detail a reason repeats: it names who may act instead (the lead supplier)."""


def oversize_frames(device: EmulatedDevice) -> list[str]:
    """The reason of every frame the air refused to or from `device` as too big, in order."""
    return [e["reason"] for e in device.events if e.get("event") == OVERSIZE_EVENT]


def judge(
    device: EmulatedDevice, campaign: DeviceCampaign | None
) -> tuple[OutcomeKind, str | None]:
    """The one outcome rule."""
    outcome, reason = _judge(device, campaign)
    refused = oversize_frames(device)
    if refused and outcome is not OutcomeKind.ACTIVATED:
        said = f"the air refused {len(refused)} frame(s): {refused[0]}"
        reason = f"{reason}; {said}" if reason else said
    return outcome, reason


def _judge(
    device: EmulatedDevice, campaign: DeviceCampaign | None
) -> tuple[OutcomeKind, str | None]:
    if campaign is not None and campaign.refused is not None and not device.activated:
        return OutcomeKind.REJECTED, f"the DCC refused it: {campaign.refused}"
    if campaign is not None and campaign.ended is not None and not device.activated:
        return OutcomeKind.REJECTED, campaign.ended  # a Wi-Fi refusal, a consent not given
    if campaign is not None and campaign.route == Route.WIFI and not device.activated:
        said = "published on the Wi-Fi update server; no check of it ended within the run"
        return OutcomeKind.NO_IMAGE, said if campaign.distributed else "not published yet"
    notes: list[str] = []
    lost: list[str] = []  # commands that never reached a powered device: not refusals
    unsent: list[str] = []  # what the head-end could not send at all
    cancelled = False
    for command in campaign.commands if campaign is not None else []:
        verdict = command.get("verdict")
        if verdict is None:
            if command["kind"] == "display-message" and "gave_up" in command:
                unsent.append(f"Display Message not sent: {command['gave_up']}")
            else:
                lost.append(f"{command['kind']}: never processed")
        elif verdict != "accepted":
            source = _SOURCES.get(command["kind"], "CS06")
            said = (
                f" ({command['detail']})" if verdict in _NAMED_PARTY and "detail" in command else ""
            )
            notes.append(f"{source} refused: {verdict}{said}")
        elif command["kind"] == "cancel":
            cancelled = True
        code = command.get("response")
        if code:
            notes.append(f"CS06 {RESPONSE_CODE_NAMES.get(code, code)}")
    if campaign is not None and campaign.future_dated_code:
        name = RESPONSE_CODE_NAMES.get(campaign.future_dated_code, campaign.future_dated_code)
        notes.append(f"future-dated activation failed: {name}")
    if campaign is not None and campaign.cs09_result:
        notes.append("Comms Hub activation failed (CS09 result failure)")
    gb = device.gb
    if gb is not None:
        accepted = int.from_bytes(gb.handler.state.running_version, "big")
        if accepted != device.start_file_version == device.flash.running_version:
            notes.append("the device accepted activation but its OTA client did not switch")
    said = device.client_outcome
    if device.activated:
        return OutcomeKind.ACTIVATED, "; ".join(notes + lost) or (said[1] if said else None)
    if said is not None and said[0] in (OutcomeKind.REJECTED, OutcomeKind.FAILED):
        return said[0], "; ".join([said[1] or said[0].value, *notes, *lost])
    if notes:
        return OutcomeKind.REJECTED, "; ".join(notes + lost)
    if device.downloaded:
        if unsent:
            return OutcomeKind.DOWNLOADED, "; ".join(unsent)
        if lost:
            return OutcomeKind.DOWNLOADED, "; ".join(lost) + " (the device was off)"
        if cancelled:
            return OutcomeKind.DOWNLOADED, "future-dated activation cancelled"
        if gb is None:
            if device.client.state is oc.State.UPGRADE_VIA_OUT_OF_BAND:
                return OutcomeKind.DOWNLOADED, "waiting for out-of-band activation"
            return OutcomeKind.DOWNLOADED, "waiting for the server to say when to upgrade"
        if campaign is None or campaign.mode is ActivationMode.NONE:
            return OutcomeKind.DOWNLOADED, "no activation asked for; waiting for activation"
        return OutcomeKind.DOWNLOADED, "activation pending beyond the simulated time"
    if said is not None and said[0] is OutcomeKind.NO_IMAGE:
        if campaign is None:
            return OutcomeKind.NO_IMAGE, "no campaign for this device"
        return OutcomeKind.NO_IMAGE, said[1]
    if campaign is None:
        return OutcomeKind.NO_IMAGE, "no campaign for this device"
    return OutcomeKind.FAILED, "no outcome within the simulated time"


@dataclass(slots=True)
class DeviceReport:
    """What happened to one device, the same on every air and from every face."""

    name: str
    profile: str | None
    ieee: str
    route: str
    start_file_version: int
    final_file_version: int
    outcome: OutcomeKind
    reason: str | None
    expect: OutcomeKind | None
    bytes: int
    blocks: int
    retries: int
    power_losses: int
    download_seconds: float | None
    activation_response: int | None
    """activateImageResponseCode of the last CS06 response that carried one (0 success,
    1 noImageHeld, 2 hashMismatch, 3 activationFailure); None when none did."""
    alerts: list[str]
    """Alert codes the head-end received, in order, as hex ("8F72")."""
    resumed_from: list[int]
    gb: dict[str, Any] | None
    """For a device on the DCC route with a GB profile: activation mode, hashes, commands."""
    events: list[dict[str, Any]]
    committed_at_cut: list[int] = field(default_factory=list)
    invalid_records: int = 0
    running_changed_before_activation: bool = False
    running_image: bytes = b""
    oversize_frames: int = 0
    """Frames to or from the device the air refused: over 127 octets in one 802.15.4 frame."""
    oversize_reason: str | None = None
    """Why the first of them was refused (its octets, layer by layer)."""
    findings: list[Finding] = field(default_factory=list)
    expect_findings: tuple[str, ...] | None = None
    """The kinds of finding the run must show (None: not checked)."""
    consent: str | None = None
    """The consumer's answer when the device asked for consent, or None when it did not."""
    site_visits: int = 0
    engineer_minutes: int = 0
    dcc_messages: int = 0
    """GBCS messages through the DCC for this device (commands with their attempts, and the
    responses and alerts that came back)."""
    time_to_update_s: float | None = None
    """From the campaign reaching the device's route to the new firmware running."""

    @property
    def findings_as_expected(self) -> bool:
        if self.expect_findings is None:
            return True
        return sorted({f.kind for f in self.findings}) == sorted(set(self.expect_findings))

    @property
    def as_expected(self) -> bool:
        if not self.findings_as_expected:
            return False
        if self.expect is not None:
            return self.outcome == self.expect
        return self.outcome is not OutcomeKind.FAILED

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "profile": self.profile,
            "ieee": self.ieee,
            "route": self.route,
            "start_file_version": self.start_file_version,
            "final_file_version": self.final_file_version,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "expect": None if self.expect is None else self.expect.value,
            "as_expected": self.as_expected,
            "bytes": self.bytes,
            "blocks": self.blocks,
            "retries": self.retries,
            "power_losses": self.power_losses,
            "resumed_from": self.resumed_from,
            "download_seconds": self.download_seconds,
            "activation_response": self.activation_response,
            "alerts": self.alerts,
            "oversize_frames": self.oversize_frames,
            "oversize_reason": self.oversize_reason,
            "findings": [f.to_json() for f in self.findings],
            "expect_findings": (
                None if self.expect_findings is None else list(self.expect_findings)
            ),
            "consent": self.consent,
            "site_visits": self.site_visits,
            "engineer_minutes": self.engineer_minutes,
            "dcc_messages": self.dcc_messages,
            "time_to_update_s": self.time_to_update_s,
            **(self.gb or {}),
            "events": self.events,
        }


def device_report(
    device: EmulatedDevice,
    campaign: DeviceCampaign | None,
    *,
    profile: str | None,
    route: str,
    expect: OutcomeKind | None,
    expect_findings: tuple[str, ...] | None = None,
) -> DeviceReport:
    """The report of one device at the end of a run."""
    if campaign is not None:
        _command_verdicts(device, campaign.commands)
    outcome, reason = judge(device, campaign)
    refused = oversize_frames(device)
    stats = device.stats
    started, finished = stats.download_started, stats.download_finished
    device._check_running_untouched()
    gb = None
    if device.gb is not None and campaign is not None:
        gb = {
            "activation_mode": campaign.mode,
            "image_hash": _hex(campaign.image_hash),
            "receipt_hash": _hex(campaign.receipt_hash),
            "running_version": device.gb.handler.state.running_version.hex().upper(),
            "commands": campaign.commands,
            "unauthenticated": campaign.unauthenticated,
        }
    return DeviceReport(
        name=device.name,
        profile=profile,
        ieee=":".join(f"{b:02x}" for b in device.ieee.to_bytes(8, "big")),
        route=route,
        start_file_version=device.start_file_version,
        final_file_version=device.flash.running_version,
        outcome=outcome,
        reason=reason,
        expect=expect,
        bytes=stats.bytes,
        blocks=stats.blocks,
        retries=device.client.retries,
        power_losses=stats.power_losses,
        download_seconds=(
            round(finished - started, 3) if started is not None and finished is not None else None
        ),
        activation_response=campaign.activation_response if campaign is not None else None,
        alerts=list(campaign.alerts) if campaign is not None else [],
        resumed_from=list(stats.resumed_from),
        gb=gb,
        events=device.events,
        committed_at_cut=list(stats.committed_at_cut),
        invalid_records=stats.invalid_records,
        running_changed_before_activation=device.running_changed_early,
        running_image=device.flash.running,
        oversize_frames=len(refused),
        oversize_reason=refused[0] if refused else None,
        findings=list(device.findings),
        expect_findings=expect_findings,
        consent=device.consent,
        site_visits=campaign.site_visits if campaign is not None else 0,
        engineer_minutes=campaign.engineer_minutes if campaign is not None else 0,
        dcc_messages=campaign.dcc_messages if campaign is not None else 0,
        time_to_update_s=_time_to_update(device, campaign),
    )


def _time_to_update(device: EmulatedDevice, campaign: DeviceCampaign | None) -> float | None:
    started = None if campaign is None else campaign.distributed_at
    done = device.stats.activated_at
    if started is None or done is None or not device.activated:
        return None
    return round(done - started, 3)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex().upper()
