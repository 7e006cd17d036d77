"""The client's transition table: every (state, trigger) pair is a transition or a documented
ignore, and the machine behaves as the table says."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ota_harness import IDENTITY, SERVER, make_image

from emulator.ota import client as oc
from emulator.ota import frames
from emulator.ota.client import IGNORED, TRANSITIONS, OtaClient, State, Trigger
from emulator.ota.frames import Send, Status

ALL_PAIRS = [(s, t) for s in State for t in Trigger]
SAMPLES = [
    frames.encode(
        "image_block_response",
        1,
        status=Status.SUCCESS,
        manufacturer_code=0x1234,
        image_type=0x0101,
        file_version=2,
        file_offset=0,
        image_data=b"abcdef",
    ),
    frames.encode(
        "image_block_response",
        1,
        status=Status.WAIT_FOR_DATA,
        current_time=1,
        request_time=2,
        minimum_block_period=3,
    ),
    frames.encode(
        "query_next_image_response",
        1,
        status=Status.SUCCESS,
        manufacturer_code=0x1234,
        image_type=0x0101,
        file_version=2,
        image_size=500,
    ),
    frames.encode(
        "upgrade_end_response",
        1,
        manufacturer_code=0x1234,
        image_type=0x0101,
        file_version=2,
        current_time=0,
        upgrade_time=0,
    ),
    frames.encode(
        "image_notify",
        1,
        payload_type=3,
        query_jitter=50,
        manufacturer_code=0x1234,
        image_type=0x0101,
        new_file_version=2,
    ),
]


def test_every_state_trigger_pair_is_a_transition_or_a_documented_ignore():
    for pair in ALL_PAIRS:
        in_table, ignored = pair in TRANSITIONS, pair in IGNORED
        assert in_table != ignored, pair
        if ignored:
            assert len(IGNORED[pair]) > 10, pair
        else:
            row = TRANSITIONS[pair]
            assert callable(row.handler), row
            assert getattr(OtaClient, row.handler.__name__) is row.handler, row
            assert row.targets, row
    assert set(TRANSITIONS) | set(IGNORED) == set(ALL_PAIRS)


def test_every_state_is_reachable_and_every_target_is_a_state():
    reached = {State.OFF}
    frontier = [State.OFF]
    while frontier:
        state = frontier.pop()
        for (src, _), row in TRANSITIONS.items():
            if src is state:
                for target in row.targets - reached:
                    reached.add(target)
                    frontier.append(target)
    assert reached == set(State)


def _event_for(trigger: Trigger, client: OtaClient):
    """A representative event for `trigger`, from the selected server."""
    simple = {
        Trigger.POWER_RESTORED: oc.PowerRestored(1),
        Trigger.POWER_LOST: oc.PowerLost(),
        Trigger.START: oc.Start(),
        Trigger.TIMER: oc.TimerFired(client._token),
        Trigger.SERVER_FOUND: oc.ServerFound(SERVER),
        Trigger.DISCOVERY_FAILED: oc.DiscoveryFailed(),
        Trigger.SERVER_EUI: oc.ServerEuiResolved(1),
        Trigger.OUT_OF_BAND_ACTIVATE: oc.OutOfBandActivate(),
        Trigger.ACTIVATION_FAILED: oc.ActivationFailed(),
    }
    if trigger in simple:
        return simple[trigger]
    fields = {
        Trigger.IMAGE_NOTIFY: {"payload_type": 0, "query_jitter": 100},
        Trigger.QUERY_NEXT_IMAGE_RESPONSE: {"status": Status.NO_IMAGE_AVAILABLE},
        Trigger.IMAGE_BLOCK_RESPONSE: {
            "status": Status.WAIT_FOR_DATA,
            "current_time": 0,
            "request_time": 1,
            "minimum_block_period": 0,
        },
        Trigger.UPGRADE_END_RESPONSE: {
            "manufacturer_code": 0xFFFF,
            "image_type": 0xFFFF,
            "file_version": 0xFFFFFFFF,
            "current_time": 0,
            "upgrade_time": 0xFFFFFFFF,
        },
        Trigger.QUERY_SPECIFIC_FILE_RESPONSE: {"status": Status.NO_IMAGE_AVAILABLE},
    }
    if trigger is Trigger.DEFAULT_RESPONSE:
        data = frames.encode_default_response(1, 0x03, Status.SUCCESS, frames.S2C)
    else:
        data = frames.encode(trigger.value, 1, disable_default_response=False, **fields[trigger])
    return oc.FrameReceived(data, SERVER)


def _client_in(state: State) -> OtaClient:
    """A client put in `state` with the context that state implies."""
    c = OtaClient(IDENTITY, rng=random.Random(0))
    c.handle(oc.PowerRestored(1), 0.0)
    c.state = state
    c.server_address = SERVER
    image = make_image()
    c._download = oc._Download(0x1234, 0x0101, 2, len(image), bytearray(image))
    c.file_offset = 0
    return c


@pytest.mark.parametrize(
    ("state", "trigger"), sorted(IGNORED, key=lambda p: (p[0].value, p[1].value))
)
def test_ignored_pairs_change_nothing_but_may_answer_failure(state, trigger):
    c = _client_in(state)
    before = (c.state, c.file_offset, c.downloaded_file_version, c._token)
    actions = c.handle(_event_for(trigger, c), 1.0)
    assert (c.state, c.file_offset, c.downloaded_file_version, c._token) == before
    for action in actions:
        assert isinstance(action, Send), action
        frame = frames.decode(action.data)
        assert frame.name == frames.DEFAULT_RESPONSE
        assert frame.command.status == Status.FAILURE


@pytest.mark.parametrize(
    ("state", "trigger"), sorted(TRANSITIONS, key=lambda p: (p[0].value, p[1].value))
)
def test_table_rows_end_in_one_of_their_target_states(state, trigger):
    c = _client_in(state)
    c.handle(_event_for(trigger, c), 1.0)  # raises TransitionError if a handler strays
    assert c.state in TRANSITIONS[(state, trigger)].targets


@settings(max_examples=400, deadline=None)
@given(
    state=st.sampled_from([s for s in State if s is not State.OFF]),
    data=st.binary(max_size=30)
    | st.sampled_from(SAMPLES).flatmap(
        lambda b: st.tuples(st.integers(0, len(b) - 1), st.integers(0, 255)).map(
            lambda m: b[: m[0]] + bytes([m[1]]) + b[m[0] + 1 :]
        )
    ),
    broadcast=st.booleans(),
)
def test_any_bytes_in_any_state_are_handled_without_surprises(state, data, broadcast):
    c = _client_in(state)
    actions = c.handle(oc.FrameReceived(data, SERVER, broadcast), 1.0)
    for action in actions:
        if isinstance(action, Send):
            assert not broadcast or frames.decode(action.data).name != frames.DEFAULT_RESPONSE


def test_transition_error_is_the_project_error_class_re_exported():
    from emulator import errors

    assert oc.TransitionError is errors.TransitionError
    assert issubclass(errors.TransitionError, AssertionError)


def test_a_handler_leaving_its_row_raises(monkeypatch):
    row = TRANSITIONS[(State.NONE, Trigger.START)]
    monkeypatch.setitem(TRANSITIONS, (State.NONE, Trigger.START), oc.Row(row.handler, frozenset()))
    c = _client_in(State.NONE)
    with pytest.raises(oc.TransitionError, match="_on_start moved NONE to DELAY on START"):
        c.handle(oc.Start(), 1.0)


def test_a_pair_in_neither_table_raises(monkeypatch):
    monkeypatch.delitem(IGNORED, (State.NONE, Trigger.TIMER))
    c = _client_in(State.NONE)
    with pytest.raises(oc.TransitionError, match="no row for TIMER in NONE"):
        c.handle(oc.TimerFired(c._token), 1.0)


@pytest.mark.parametrize(
    "trigger",
    [
        Trigger.IMAGE_NOTIFY,
        Trigger.QUERY_NEXT_IMAGE_RESPONSE,
        Trigger.IMAGE_BLOCK_RESPONSE,
        Trigger.UPGRADE_END_RESPONSE,
        Trigger.DEFAULT_RESPONSE,
    ],
)
def test_frame_handlers_are_given_the_decoded_frame(monkeypatch, trigger):
    pair = next(p for p in TRANSITIONS if p[1] is trigger)
    seen = []
    stay = frozenset({pair[0]})
    monkeypatch.setitem(
        TRANSITIONS, pair, oc.Row(lambda client, payload: seen.append(payload), stay)
    )
    c = _client_in(pair[0])
    event = _event_for(trigger, c)
    c.handle(event, 1.0)
    [payload] = seen
    assert isinstance(payload, oc.Received)
    assert payload.event is event and payload.frame.name == trigger.value
    assert payload.command is payload.frame.command
