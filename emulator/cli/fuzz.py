"""`hanemu fuzz`: hanemu's own readers and state machines against the hypothesis strategies.

Owns running the strategies of `emulator.testing.strategies` against one code path per target,
in batches of examples until an example count or a time budget is spent, and reporting each
failure with the command that replays it. A target is a hypothesis strategy and a check over
what it draws (`TARGETS`); a check may let only the project's own errors (`HanemuError`) escape,
anything else (or a broken invariant, an `AssertionError`) is a failure. A check that fuzzes
someone else's code (`zigpy-server`: misbehaving clients against zigpy's OTA server) returns what
it saw that code do; those observations are counted and printed with the first input that showed
each, never failures.

Replays: batch k of a run with `--seed S` is hypothesis seed `S + k`, so a failure in it replays
as `--seed S+k --examples <batch size>`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import click
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from emulator.cli import EXIT_CHECK_FAILED
from emulator.errors import HanemuError

BATCH = 100
"""Examples per hypothesis run (one seed each)."""
DEFAULT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Target:
    """What to fuzz: a strategy of inputs and the check one input must pass."""

    help: str
    strategy: Callable[[], st.SearchStrategy[Any]]
    check: Callable[[Any], Iterable[str] | None]
    """Raises on a failure; may return what it observed (sentences, counted per run)."""


# --- image -----------------------------------------------------------------------------------


def _image_inputs() -> st.SearchStrategy[Any]:
    from emulator.testing import strategies as s

    return st.one_of(
        s.ota_files(), s.wrapped_files().map(lambda pair: pair[0]), s.mutated(s.ota_files())
    )


def _check_image(data: bytes) -> None:
    from emulator.ota.image import parse_image

    for strict in (False, True):
        with contextlib.suppress(HanemuError):
            parse_image(data, strict=strict)


# --- gbcs ------------------------------------------------------------------------------------

_GBCS_NOW = dt.datetime(2030, 6, 1, 12, tzinfo=dt.UTC)


def _gbcs_inputs() -> st.SearchStrategy[Any]:
    from emulator.testing import strategies as s

    return s.gbcs_messages().flatmap(
        lambda base: st.tuples(st.just(base), s.mutated(st.just(base)))
    )


def _check_gbcs(pair: tuple[bytes, bytes]) -> None:
    from emulator.gbcs.activation import ActivationHandler, ActivationState
    from emulator.gbcs.frame import decode_frame
    from emulator.gbcs.messages import decode_payload
    from emulator.testing import strategies as s

    base, message = pair
    for data in (base, message):
        with contextlib.suppress(HanemuError):
            frame = decode_frame(data)
            decode_payload(frame.header.message_code, frame.header.cra, frame.payload)
    handler = ActivationHandler(s.gbcs_activation_config(), ActivationState(b"\x00\x00\x00\x01"))
    outcome = handler.handle(message, _GBCS_NOW)
    assert message == base or not outcome.accepted, (
        f"a mutated GBCS message was accepted: {message.hex()} (from {base.hex()})"
    )


# --- client ----------------------------------------------------------------------------------

_MFG, _TYPE, _SERVER, _SERVER_IEEE = 0x1234, 0x0101, 0x0000, 0x000D6F0000198B36
_RUNNING_VERSION = 1
_PHASES = ("query", "download", "waiting")


@functools.cache
def _client_image() -> bytes:
    from emulator.ota.image import build_image

    return build_image(
        b"firmware " * 30, manufacturer_id=_MFG, image_type=_TYPE, file_version=2, integrity=True
    )


class _ClientDriver:
    """One sans-IO `OtaClient` and its one timer, driven to a phase with real server frames."""

    def __init__(self) -> None:
        from emulator.ota import client as oc
        from emulator.ota.client import ClientIdentity, OtaClient

        self.oc = oc
        self.client = OtaClient(
            ClientIdentity(_MFG, _TYPE, ieee=0x00124B0001020304), rng=random.Random(0)
        )
        self.now = 0.0
        self.token: int | None = None
        self.due = 0.0
        self.last_sent: Any = None
        self.feed(oc.PowerRestored(_RUNNING_VERSION))

    def feed(self, event: Any) -> None:
        from emulator.ota import frames
        from emulator.ota.frames import Send

        for action in self.client.handle(event, self.now):
            if isinstance(action, Send):
                with contextlib.suppress(HanemuError):
                    self.last_sent = frames.decode(action.data)
            elif isinstance(action, self.oc.ArmTimer):
                self.token, self.due = action.token, self.now + action.delay
            elif isinstance(action, self.oc.CancelTimer):
                self.token = None

    def fire(self) -> None:
        if self.token is None:
            return
        self.now = max(self.now, self.due)
        token, self.token = self.token, None
        self.feed(self.oc.TimerFired(token))

    def server_says(self, name: str, **fields: Any) -> None:
        from emulator.ota import frames

        tsn = self.last_sent.tsn if self.last_sent is not None else 0
        self.feed(self.oc.FrameReceived(frames.encode(name, tsn, **fields), _SERVER))

    def to(self, phase: str) -> None:
        from emulator.ota.frames import Status

        oc, image = self.oc, _client_image()
        self.feed(oc.Start())
        self.fire()
        self.feed(oc.ServerFound(_SERVER))
        self.feed(oc.ServerEuiResolved(_SERVER_IEEE))
        if phase == "query":
            return
        ids = {"manufacturer_code": _MFG, "image_type": _TYPE, "file_version": 2}
        self.server_says(
            "query_next_image_response", status=Status.SUCCESS, image_size=len(image), **ids
        )
        if phase == "download":
            return
        for _ in range(1000):
            if self.client.state is not oc.State.DOWNLOAD:
                break
            if self.last_sent is not None and self.last_sent.name == "image_block":
                offset = self.last_sent.command.file_offset
                size = min(50, self.last_sent.command.maximum_data_size)
                self.last_sent = None
                self.server_says(
                    "image_block_response",
                    status=Status.SUCCESS,
                    file_offset=offset,
                    image_data=image[offset : offset + size],
                    **ids,
                )
            else:
                self.fire()
        self.fire()  # verify


@st.composite
def _client_inputs(draw: Any) -> tuple[str, list[tuple[str, Any]]]:
    from emulator.ota import frames
    from emulator.testing import strategies as s

    to_client = tuple(n for n, (d, _) in sorted(frames._BY_NAME.items()) if d == frames.S2C)
    steps: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["valid", "fitting", "malformed", "mutated", "timer"]))
        if kind == "valid":
            steps.append(("frame", draw(s.ota_frames(to_client))[1]))
        elif kind == "fitting":  # a server frame naming the offered image, near the offset
            name = draw(st.sampled_from(to_client))
            fields = draw(s.ota_command_fields(name))
            steps.append(("fitting", (name, fields, draw(st.integers(-64, 64)), draw(s.u8))))
        elif kind == "malformed":
            steps.append(("frame", draw(s.malformed_ota_frames(to_client))))
        elif kind == "mutated":
            steps.append(("frame", draw(s.mutated_ota_frames(to_client))))
        else:
            steps.append(("timer", None))
    return draw(st.sampled_from(_PHASES)), steps


def _check_client(program: tuple[str, list[tuple[str, Any]]]) -> None:
    from emulator.ota import frames

    phase, steps = program
    driver = _ClientDriver()
    driver.to(phase)
    client, oc = driver.client, driver.oc
    for kind, value in steps:
        with contextlib.suppress(HanemuError):
            if kind == "timer":
                driver.fire()
            elif kind == "frame":
                driver.feed(oc.FrameReceived(value, _SERVER))
            else:
                name, fields, delta, tsn = value
                fitting = {"manufacturer_code": _MFG, "image_type": _TYPE, "file_version": 2}
                for key, known in fitting.items():
                    if key in fields:
                        fields[key] = known
                if "file_offset" in fields and client.file_offset != oc.NO_VERSION:
                    fields["file_offset"] = max(0, client.file_offset + delta)
                driver.feed(oc.FrameReceived(frames.encode(name, tsn, **fields), _SERVER))
        assert client.current_file_version == _RUNNING_VERSION, (
            f"running version became {client.current_file_version:#x} from frames alone"
        )
        download = client._download
        if download is not None and client.file_offset != oc.NO_VERSION:
            assert client.file_offset <= download.image_size, (
                f"FileOffset {client.file_offset} beyond the image size {download.image_size}"
            )


# --- server ----------------------------------------------------------------------------------


@functools.cache
def _server_images() -> tuple[bytes, ...]:
    from emulator.ota.image import build_image

    return tuple(
        build_image(b"image %d " % v * 20, manufacturer_id=m, image_type=_TYPE, file_version=v)
        for m, v in ((_MFG, 2), (_MFG, 3), (0x1002, 7))
    )


@st.composite
def _server_inputs(draw: Any) -> list[tuple[bytes, int, bool]]:
    from emulator.ota import frames
    from emulator.testing import strategies as s

    to_server = tuple(n for n, (d, _) in sorted(frames._BY_NAME.items()) if d == frames.C2S)
    kinds = st.one_of(
        s.ota_frames(to_server).map(lambda pair: pair[1]),
        s.ota_frames().map(lambda pair: pair[1]),
        s.default_responses(),
        s.malformed_ota_frames(),
        s.mutated_ota_frames(to_server),
    )
    return draw(
        st.lists(
            st.tuples(kinds, st.sampled_from([0x1111, 0x2222]), st.booleans()),
            min_size=1,
            max_size=8,
        )
    )


def _check_server(received: list[tuple[bytes, int, bool]]) -> None:
    from emulator.ota import frames
    from emulator.ota.server import ImageStore, OtaServer

    store = ImageStore()
    for image in _server_images():
        store.add(image)
    server = OtaServer(store)
    for now, (data, src, broadcast) in enumerate(received):
        with contextlib.suppress(HanemuError):
            for send in server.handle(data, src, float(now), broadcast=broadcast):
                frames.decode(send.data)  # what the server sends, it can read back


# --- zigpy-server -----------------------------------------------------------------------------


def _zigpy_server_inputs() -> st.SearchStrategy[Any]:
    from emulator.testing import strategies as s

    return st.fixed_dictionaries(
        {
            "knobs": s.misbehaviours(),
            "image_size": st.sampled_from([100, 300, 700, 1500]),
            "seed": st.integers(0, 0xFFFF),
            "power_cut_at": st.none() | st.none() | st.floats(0.0, 1.0),
        }
    )


def _check_zigpy_server(example: dict[str, Any]) -> list[str]:
    from emulator.testing.zigpy_server import check_hanemu_side, observe, run_against_zigpy

    try:
        run = run_against_zigpy(**example)
    except HanemuError as exc:
        return [f"hanemu: refused the run ({type(exc).__name__})"]
    check_hanemu_side(run)
    return observe(run)


TARGETS: dict[str, Target] = {
    "client": Target(
        "OTA frames into a sans-IO OtaClient in each state", _client_inputs, _check_client
    ),
    "gbcs": Target(
        "GBCS messages into decode_frame and an ActivationHandler", _gbcs_inputs, _check_gbcs
    ),
    "image": Target("OTA files into parse_image", _image_inputs, _check_image),
    "server": Target("OTA frames into an OtaServer", _server_inputs, _check_server),
    "zigpy-server": Target(
        "misbehaving OTA clients against zigpy's update_firmware",
        _zigpy_server_inputs,
        _check_zigpy_server,
    ),
}
"""Target name -> what it fuzzes. Tests add targets here; the command offers what it holds."""


@dataclass(slots=True)
class Seen:
    """One observation: how many examples showed it, and the first that did."""

    count: int
    first: str
    replay: str


@dataclass(slots=True)
class Result:
    target: str
    examples: int
    seconds: float
    failure: str | None = None
    replay: str | None = None
    observed: dict[str, Seen] = field(default_factory=dict)


def _run_batch(
    target: Target,
    seed: int,
    examples: int,
    counter: list[int],
    observed: dict[str, Seen] | None = None,
    replay: str = "",
) -> None:
    """Run `examples` examples of `target` under hypothesis seed `seed`; raise the failure.
    What the checks observe is added to `observed`."""

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=(Phase.generate, Phase.shrink),
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(target.strategy())
    def fuzz_one(value: Any) -> None:
        counter[0] += 1
        try:
            seen = target.check(value)
        except Exception as exc:
            shown = repr(value)
            exc.add_note(f"input: {shown[:400]}{'...' if len(shown) > 400 else ''}")
            raise
        for sentence in seen or ():
            if observed is None:
                continue
            if sentence in observed:
                observed[sentence].count += 1
            else:
                observed[sentence] = Seen(1, repr(value)[:400], replay)

    fuzz_one()


def run_target(name: str, *, seed: int, examples: int | None, seconds: float) -> Result:
    """Fuzz target `name`: exactly `examples` examples, or batches until `seconds` are spent."""
    target = TARGETS[name]
    start = time.monotonic()
    ran = 0
    batch_index = 0
    observed: dict[str, Seen] = {}
    while examples is None or ran < examples:
        if examples is None and time.monotonic() - start >= seconds:
            break
        size = BATCH if examples is None else min(BATCH, examples - ran)
        batch_seed = seed + batch_index
        counter = [0]
        replay = f"hanemu fuzz --target {name} --seed {batch_seed} --examples {size}"
        try:
            _run_batch(target, batch_seed, size, counter, observed, replay)
        except Exception as exc:  # the failure hypothesis shrank, or a broken strategy
            message = f"{type(exc).__name__}: {exc}".strip()
            notes = [n for n in getattr(exc, "__notes__", ()) if n.strip()]
            if notes:
                message = message + "\n" + "\n".join(notes)
            return Result(
                name,
                ran + min(counter[0], size),
                time.monotonic() - start,
                failure=message,
                replay=replay,
                observed=observed,
            )
        ran += size
        batch_index += 1
    return Result(name, ran, time.monotonic() - start, observed=observed)


def _targets(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    for name in value:
        if name not in TARGETS:
            raise click.BadParameter(
                f"{name!r} is not one of {', '.join(sorted(TARGETS))}", ctx, param
            )
    return list(dict.fromkeys(value)) or sorted(TARGETS)


@click.group(invoke_without_command=True)
@click.option(
    "--target",
    "targets",
    multiple=True,
    callback=_targets,
    help="client, server, image, gbcs or zigpy-server (repeatable; default: every target).",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_SECONDS,
    show_default=True,
    help="Time budget per target, when --examples is not given.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=None,
    help="Run exactly this many examples per target (deterministic for a seed).",
)
def fuzz(targets: list[str], seconds: float, seed: int, examples: int | None) -> None:
    """Fuzz hanemu's OTA client, OTA server, image parser or GBCS handling, or zigpy's OTA
    server with misbehaving clients.

    A group without subcommands: every command area is a click group.

    Only the project's own errors may escape; a failure prints its replay command, exit 1."""
    failed = False
    for name in targets:
        result = run_target(name, seed=seed, examples=examples, seconds=seconds)
        verdict = "ok" if result.failure is None else "FAILED"
        click.echo(f"{name}: {result.examples} examples in {result.seconds:.1f} s, {verdict}")
        for sentence, seen in sorted(result.observed.items()):
            click.echo(f"  {seen.count:6d}  {sentence}")
            click.echo(f"          first: {seen.first}")
            click.echo(f"          replay: {seen.replay}")
        if result.failure is not None:
            failed = True
            click.echo(f"  {result.failure}".replace("\n", "\n  "))
            click.echo(f"  replay: {result.replay}")
    if failed:
        raise click.exceptions.Exit(EXIT_CHECK_FAILED)
