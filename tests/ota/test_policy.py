"""Policy modes: StrEnums spelled as profiles and the CLI spell them, reported as zigpy's enums."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from ota_harness import IDENTITY
from zigpy.zcl.clusters.general import Ota

from emulator.errors import PolicyError
from emulator.ota.client import OtaClient
from emulator.ota.policy import (
    ActivationPolicy,
    BlockPeriodUnits,
    ClientPolicy,
    CountdownMode,
    ServerFault,
    ServerPolicy,
    TimeForm,
    TimeoutPolicy,
    UpgradeTime,
    Verification,
    VersionPolicy,
)

MODES = [
    (ClientPolicy, "activation_policy", ActivationPolicy),
    (ClientPolicy, "timeout_policy", TimeoutPolicy),
    (ClientPolicy, "countdown_mode", CountdownMode),
    (ClientPolicy, "min_block_period_units", BlockPeriodUnits),
    (ClientPolicy, "verification", Verification),
    (ServerPolicy, "version_policy", VersionPolicy),
    (ServerPolicy, "upgrade_time", UpgradeTime),
    (ServerPolicy, "misbehaviour", ServerFault),
]


@pytest.mark.parametrize(("policy", "name", "mode"), MODES)
def test_every_spelling_is_accepted_and_kept_as_its_member(policy, name, mode):
    for member in mode:
        made = policy(**{name: member.value})
        value = getattr(made, name)
        assert value is member and value == member.value and str(value) == member.value
        assert getattr(made.replace(), name) is member


@pytest.mark.parametrize(("policy", "name", "mode"), MODES)
def test_a_bad_spelling_names_the_field_and_the_choices(policy, name, mode):
    choices = ", ".join(m.value for m in mode)
    message = f"{policy.__name__}.{name} must be one of {choices}, got 'nope'"
    with pytest.raises(PolicyError) as info:
        policy(**{name: "nope"})
    assert str(info.value) == message
    with pytest.raises(PolicyError, match=f"{name} must be one of"):
        policy(**{name: 1})


def test_json_of_a_policy_holds_the_spellings():
    policy = ClientPolicy(activation_policy="out-of-band", countdown_mode="strict")
    data = json.loads(json.dumps(dataclasses.asdict(policy)))
    assert data["activation_policy"] == "out-of-band"
    assert data["countdown_mode"] == "strict"
    assert data["min_block_period_units"] == "auto"
    server = json.loads(json.dumps(dataclasses.asdict(ServerPolicy(misbehaviour="wrong-offset"))))
    assert (server["misbehaviour"], server["upgrade_time"]) == ("wrong-offset", "now")


def test_time_form_follows_use_utc():
    assert ServerPolicy().time_form is TimeForm.RELATIVE
    assert ServerPolicy(use_utc=True).time_form is TimeForm.UTC


@pytest.mark.parametrize(
    ("activation", "timeout", "reported"),
    [
        (
            "server",
            "apply",
            (
                Ota.UpgradeActivationPolicy.OTA_server_allowed,
                Ota.UpgradeTimeoutPolicy.Apply_after_timeout,
            ),
        ),
        (
            "out-of-band",
            "do-not-apply",
            (
                Ota.UpgradeActivationPolicy.Out_of_band_allowed,
                Ota.UpgradeTimeoutPolicy.Do_not_apply_after_timeout,
            ),
        ),
    ],
)
def test_the_client_reports_its_policies_as_zigpy_enums(activation, timeout, reported):
    policy = ClientPolicy(activation_policy=activation, timeout_policy=timeout)
    attributes = OtaClient(IDENTITY, policy, rng=random.Random(0)).attributes()
    values = (attributes["upgrade_activation_policy"], attributes["upgrade_timeout_policy"])
    assert values == reported
    assert all(type(v) is type(r) for v, r in zip(values, reported, strict=True))
    assert [int(v) for v in values] == ([0, 0] if activation == "server" else [1, 1])
