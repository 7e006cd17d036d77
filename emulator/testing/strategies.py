"""Hypothesis strategies for fuzzing OTA clients, servers and readers: hanemu's own and anybody
else's.

Owns: generators of valid OTA files of every header variant and tag mix, the vendor containers
real files arrive in (IKEA `NGIS`, Legrand, Third Reality), and mutations of any file (truncation,
bit flips, bogus lengths, nested wrappers); every OTA cluster command frame, valid and malformed;
GBCS commands, responses and alerts, valid and mutated; home files, valid and broken; fault
schedules (link drop, duplicate, reorder and corruption rates, power-cut instants); and
misbehaving OTA clients (`misbehaviours`: knobs of `ClientPolicy`) for fuzzing servers. Valid
things are built only through the project's own codecs (emulator.ota.image, emulator.ota.frames,
emulator.gbcs.headend and activation, emulator.gbcs.messages), so what these strategies produce
is what hanemu itself would write. Nothing here imports from tests/.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
from typing import Any

import zigpy.types as t
from hypothesis import strategies as st
from zigpy.zcl import foundation

from emulator.device.emulated import PowerCut
from emulator.gbcs.activation import (
    ActivationClass,
    ActivationConfig,
    ActivationHandler,
    ActivationState,
    SupplierSlot,
)
from emulator.gbcs.headend import TEST_ENTITY_IDS, HeadEnd, RemoteParty
from emulator.gbcs.messages import (
    ActivateFirmwareCommand,
    ReadFirmwareVersionCommand,
    ReceiptAlert,
)
from emulator.ota import frames
from emulator.ota.image import (
    HEADER_STRING_LENGTH,
    IKEA_CONTAINER,
    LEGRAND_PREFIX_LENGTH,
    LEGRAND_SUFFIX_LENGTH,
    THIRD_REALITY_HASHED_FROM,
    THIRD_REALITY_HEADER_LENGTH,
    THIRD_REALITY_LENGTH_OFFSET,
    build_image,
)
from emulator.ota.link import LinkPolicy
from emulator.testpki import derive_key

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)

# Standard tags (the upgrade image is always first; the integrity code is built last when asked
# for) and manufacturer-specific ones.
extra_tags = st.one_of(
    st.sampled_from([0x0001, 0x0002, 0x0004, 0x0005, 0x0006]), st.integers(0xF001, 0xFFFF)
)


@st.composite
def ota_files(draw, *, max_payload: int = 512, integrity: bool | None = None) -> bytes:
    """A valid standard OTA file: any field-control combination and a random tag mix."""
    with_hw = draw(st.booleans())
    min_hw = draw(u16) if with_hw else None
    text = draw(st.text(max_size=8).filter(lambda s: len(s.encode()) <= HEADER_STRING_LENGTH))
    return build_image(
        draw(st.binary(max_size=max_payload)),
        manufacturer_id=draw(u16),
        image_type=draw(u16),
        file_version=draw(u32),
        header_string=text,
        stack_version=draw(u16),
        min_hw=min_hw,
        max_hw=draw(st.integers(min_hw, 0xFFFF)) if with_hw else None,
        destination=draw(st.none() | u64),
        security_credential_version=draw(st.none() | u8),
        tags=draw(st.lists(st.tuples(extra_tags, st.binary(max_size=64)), max_size=4)),
        integrity=draw(st.booleans()) if integrity is None else integrity,
    )


def wrap_ikea(data: bytes, *, offset: int = IKEA_CONTAINER.sizeof()) -> bytes:
    """An IKEA `NGIS` container holding `data` at `offset`."""
    head = IKEA_CONTAINER.build({"image_offset": offset, "image_length": len(data)})
    return head + bytes(offset - len(head)) + data + b"\x00"


def wrap_legrand(data: bytes) -> bytes:
    """A Legrand container: 4-byte size prefix, 1 + 16 byte suffix."""
    return len(data).to_bytes(LEGRAND_PREFIX_LENGTH, "little") + data + bytes(LEGRAND_SUFFIX_LENGTH)


def wrap_third_reality(data: bytes) -> bytes:
    """A Third Reality container: 152-byte header starting with SHA-512 of all after byte 64."""
    rest = bytearray(THIRD_REALITY_HEADER_LENGTH - THIRD_REALITY_HASHED_FROM) + data
    total = THIRD_REALITY_HEADER_LENGTH + len(data)
    start = THIRD_REALITY_LENGTH_OFFSET - THIRD_REALITY_HASHED_FROM
    rest[start : start + 4] = (total - THIRD_REALITY_HASHED_FROM).to_bytes(4, "little")
    return hashlib.sha512(rest).digest() + bytes(rest)


WRAPPERS = {"ikea": wrap_ikea, "legrand": wrap_legrand, "third-reality": wrap_third_reality}


@st.composite
def wrapped_files(draw, *, max_depth: int = 2) -> tuple[bytes, tuple[str, ...]]:
    """A valid OTA file inside 0..max_depth vendor containers, with the container names."""
    data = draw(ota_files(max_payload=256))
    names = draw(st.lists(st.sampled_from(sorted(WRAPPERS)), max_size=max_depth))
    for name in reversed(names):
        data = WRAPPERS[name](data)
    return data, tuple(names)


@st.composite
def mutated(draw, base: st.SearchStrategy[bytes]) -> bytes:
    """`base` after one to four mutations: truncation, bit flips, bogus lengths, re-wrapping."""
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "length", "wrap", "splice"]))
        if kind == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif kind == "flip" and data:
            index = draw(st.integers(0, len(data) - 1))
            data[index] ^= 1 << draw(st.integers(0, 7))
        elif kind == "length" and len(data) >= 4:
            # Overwrite a 16- or 32-bit little-endian field with a boundary value.
            width = draw(st.sampled_from([2, 4]))
            index = draw(st.integers(0, len(data) - width))
            value = draw(st.sampled_from([0, 1, 55, 56, 69, 70, len(data), 0xFFFF, 0xFFFF_FFFF]))
            data[index : index + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
        elif kind == "wrap":
            data = bytearray(WRAPPERS[draw(st.sampled_from(sorted(WRAPPERS)))](bytes(data)))
        elif kind == "splice":
            index = draw(st.integers(0, len(data)))
            data[index:index] = draw(st.binary(max_size=16))
    return bytes(data)


# --- OTA cluster command frames ----------------------------------------------------------------

OTA_COMMANDS: tuple[str, ...] = tuple(sorted(frames.COMMAND_IDS))
"""Every OTA cluster command by zigpy's name (both directions)."""


def _schema(name: str) -> Any:
    return frames._BY_NAME[name][1].schema


def _field_values(typ: type) -> st.SearchStrategy[Any]:
    """Values of one zigpy field type."""
    if issubclass(typ, t.EUI64):
        return u64.map(frames.eui64)
    if issubclass(typ, t.LVBytes):
        return st.binary(max_size=64)
    if issubclass(typ, enum.Flag):
        members = [m for m in typ if m.value]
        return st.lists(st.sampled_from(members), unique=True, max_size=len(members)).map(
            lambda flags: typ(functools.reduce(lambda a, b: a | b.value, flags, 0))
        )
    if issubclass(typ, enum.Enum):
        return st.sampled_from(list(typ))
    if issubclass(typ, int):
        bits = getattr(typ, "_bits", 32)
        return st.integers(0, (1 << bits) - 1).map(typ)
    raise TypeError(f"no strategy for zigpy type {typ!r}")  # a new zigpy schema: extend this


@st.composite
def ota_command_fields(draw, name: str) -> dict[str, Any]:
    """Field values of OTA command `name` (zigpy's name, e.g. "image_block") that zigpy's schema
    serializes: conditional fields present exactly when their field-control bit or status asks
    for them, trailing optional fields present only on SUCCESS."""
    schema = _schema(name)
    values: dict[str, Any] = {}
    partial = type("Partial", (), {})()
    for field in schema.fields:
        absent = field.requires is not None and not field.requires(partial)
        failed = values.get("status", foundation.Status.SUCCESS) != foundation.Status.SUCCESS
        value = None if absent or (field.optional and failed) else draw(_field_values(field.type))
        values[field.name] = value
        setattr(partial, field.name, value)
    return {k: v for k, v in values.items() if v is not None}


@st.composite
def ota_frames(draw, names: tuple[str, ...] = OTA_COMMANDS) -> tuple[str, bytes]:
    """A valid OTA cluster frame: (zigpy's command name, ZCL bytes built by emulator.ota.frames),
    any TSN, either default-response bit."""
    name = draw(st.sampled_from(names))
    fields = draw(ota_command_fields(name))
    data = frames.encode(
        name, draw(u8), disable_default_response=draw(st.none() | st.booleans()), **fields
    )
    return name, data


@st.composite
def default_responses(draw) -> bytes:
    """A valid ZCL Default Response of the OTA cluster, either direction."""
    return frames.encode_default_response(
        draw(u8),
        draw(st.sampled_from(sorted(frames.COMMAND_IDS.values()))),
        draw(st.sampled_from(list(foundation.Status))),
        draw(st.sampled_from([frames.C2S, frames.S2C])),
    )


def _required_prefix(name: str) -> int:
    """Octets of the leading payload fields every frame of `name` carries."""
    size = 0
    for field in _schema(name).fields:
        if field.requires is not None or field.optional:
            break
        size += len(field.type(0).serialize()) if not issubclass(field.type, t.EUI64) else 8
    return size


@st.composite
def malformed_ota_frames(draw, names: tuple[str, ...] = OTA_COMMANDS) -> bytes:
    """An OTA frame every receiver must refuse (`emulator.errors.FrameError`): cut inside its
    ZCL header or its required fields, an Image Block Response whose data length byte claims
    more than the frame holds, an unknown command id, a manufacturer-specific command, or a
    general command other than Default Response."""
    kind = draw(
        st.sampled_from(["header", "truncate", "lying-length", "unknown", "manuf", "general"])
    )
    name, data = draw(ota_frames(names))
    if kind == "header":
        return data[: draw(st.integers(0, frames.HEADER_LENGTH - 1))]
    if kind == "truncate":
        cut = draw(st.integers(0, _required_prefix(name) - 1))
        return data[: frames.HEADER_LENGTH + cut]
    if kind == "lying-length":
        fields = draw(ota_command_fields("image_block_response"))
        fields.update(
            status=foundation.Status.SUCCESS,
            manufacturer_code=draw(u16),
            image_type=draw(u16),
            file_version=draw(u32),
            file_offset=draw(u32),
            image_data=draw(st.binary(max_size=64)),
        )
        for key in ("current_time", "request_time", "minimum_block_period"):
            fields.pop(key, None)
        good = frames.encode("image_block_response", draw(u8), **fields)
        at = frames.HEADER_LENGTH + 13  # status, manufacturer, type, version, offset
        length = len(fields["image_data"])
        body = bytearray(good)
        body[at] = draw(st.integers(length + 1, 0xFF))
        return bytes(body)
    direction = data[0] & 0x08
    if kind == "unknown":
        known = {cid for (d, cid) in frames._BY_ID if (d == frames.S2C) == bool(direction)}
        cid = draw(st.integers(0, 0xFF).filter(lambda c: c not in known))
        return data[:2] + bytes([cid]) + data[3:]
    if kind == "manuf":
        return bytes([data[0] | 0x04]) + draw(u16).to_bytes(2, "little") + data[1:]
    general = draw(
        st.integers(0, 0xFF).filter(lambda c: c != foundation.GeneralCommand.Default_Response)
    )
    return bytes([data[0] & ~0x03]) + data[1:2] + bytes([general]) + data[3:]


def mutated_ota_frames(names: tuple[str, ...] = OTA_COMMANDS) -> st.SearchStrategy[bytes]:
    """A valid OTA frame after one to four mutations (truncation, bit flips, bogus length
    fields, trailing octets): a receiver must decode it or refuse it with `FrameError`,
    never fail any other way."""
    return mutated(ota_frames(names).map(lambda pair: pair[1]))


# --- GBCS commands, responses and alerts ------------------------------------------------------

GBCS_PARTIES: tuple[str, ...] = ("supplier-a", "supplier-b", "rogue", "forged")
"""Who originates a GBCS command: the two test suppliers, a rogue party, and one that claims to
be supplier A but signs with the rogue key."""
GBCS_DEVICE_ID = bytes.fromhex("00DB1234567890A4")
"""The device the GBCS strategies address, unless told another."""


@functools.cache
def _key(name: str) -> Any:
    return derive_key(name)


def gbcs_party(name: str) -> RemoteParty:
    """The remote party `name` of `GBCS_PARTIES`, with its test-PKI signing key."""
    if name == "forged":
        return RemoteParty(TEST_ENTITY_IDS["supplier-a"], _key("rogue"))
    return RemoteParty(TEST_ENTITY_IDS[name], _key(name))


def gbcs_activation_config(
    activation: ActivationClass = ActivationClass.CRITICAL, device_id: bytes = GBCS_DEVICE_ID
) -> ActivationConfig:
    """A device's activation security from the test PKI: suppliers A and B in its slots."""
    return ActivationConfig(
        device_id=device_id,
        activation=activation,
        ka_key=_key("dev-ka"),
        acb_ka_public=_key("acb").public_key(),
        acb_id=TEST_ENTITY_IDS["acb"],
        supplier_id=TEST_ENTITY_IDS["supplier-a"],
        slots=tuple(
            SupplierSlot(TEST_ENTITY_IDS[n], _key(n).public_key(), n)
            for n in ("supplier-a", "supplier-b")
        ),
        slot_capacity=2,
        signing_key=_key("dev-ds"),
    )


gbcs_times = st.datetimes(
    min_value=dt.datetime(2020, 1, 1),
    max_value=dt.datetime(2099, 12, 31),
    timezones=st.just(dt.UTC),
).map(lambda d: d.replace(microsecond=0))
"""Whole-second UTC instants GBCS dates carry."""


@st.composite
def gbcs_commands(draw, *, device_id: bytes = GBCS_DEVICE_ID) -> bytes:
    """A valid GBCS command frame for `device_id` built by `emulator.gbcs.headend.HeadEnd`:
    CS06 Activate Firmware (immediate, future-dated or a cancellation; Critical with a KRP
    signature or MAC only; from any of `GBCS_PARTIES`, any hash and counter) or CS08 Read
    Firmware Version. MACed with the test ACB key for the test device key `dev-ka`."""
    headend = HeadEnd(_key("acb"))
    party = gbcs_party(draw(st.sampled_from(GBCS_PARTIES)))
    ka = _key("dev-ka").public_key()
    counter = draw(st.integers(1, 2**63 - 1))
    kind = draw(st.sampled_from(["activate", "future", "cancel", "read"]))
    if kind == "read":
        return headend.read_firmware_version(party, device_id, ka, counter=counter)
    image_hash = draw(st.binary(min_size=32, max_size=32))
    critical = draw(st.booleans())
    if kind == "cancel":
        return headend.cancel_activation(
            party, device_id, ka, image_hash, critical=critical, counter=counter
        )
    when = draw(gbcs_times) if kind == "future" else None
    return headend.activate_firmware(
        party, device_id, ka, image_hash, execution_time=when, critical=critical, counter=counter
    )


@st.composite
def gbcs_responses_and_alerts(draw) -> bytes:
    """A valid GBCS response or alert, produced by a device's own `ActivationHandler`: a
    receipt alert (0x8F72 or 0x8F1C) after a download was checked, the CS06 response, the
    0x8F3D authentication-failure alert, the CS08 response, or a future-dated alert."""
    handler = ActivationHandler(
        gbcs_activation_config(draw(st.sampled_from(list(ActivationClass)))),
        ActivationState(draw(st.binary(min_size=4, max_size=4))),
    )
    now = draw(gbcs_times)
    image = draw(st.binary(min_size=1, max_size=64))
    out: list[bytes] = list(
        handler.image_stored(
            image, draw(st.binary(min_size=4, max_size=4)), verified=draw(st.booleans()), now=now
        ).alerts
    )
    command = draw(gbcs_commands())
    if draw(st.booleans()):  # a command naming the stored image
        party = gbcs_party(draw(st.sampled_from(GBCS_PARTIES)))
        command = HeadEnd(_key("acb")).activate_firmware(
            party,
            GBCS_DEVICE_ID,
            _key("dev-ka").public_key(),
            hashlib.sha256(image).digest(),
            critical=draw(st.booleans()),
        )
    outcome = handler.handle(command, now)
    out.extend(outcome.alerts)
    if outcome.response is not None:
        out.append(outcome.response)
    later = handler.tick(dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    if later is not None:
        out.extend(later.alerts)
    return draw(st.sampled_from(out))


@st.composite
def gbcs_payloads(draw) -> tuple[type, bytes]:
    """(payload type, DER bytes) of a GBCS payload built by emulator.gbcs.messages: a CS06
    command, a CS08 command or a GBZ receipt alert."""
    kind = draw(
        st.sampled_from([ActivateFirmwareCommand, ReadFirmwareVersionCommand, ReceiptAlert])
    )
    if kind is ActivateFirmwareCommand:
        value: Any = ActivateFirmwareCommand(
            draw(st.binary(min_size=32, max_size=32)),
            draw(st.integers(0, 2**63 - 1)),
            draw(st.none() | gbcs_times),
        )
    elif kind is ReadFirmwareVersionCommand:
        value = ReadFirmwareVersionCommand()
    else:
        value = ReceiptAlert(
            draw(st.sampled_from([0x8F72, 0x8F1C])),
            draw(gbcs_times),
            draw(st.binary(min_size=32, max_size=32)),
        )
    return kind, value.to_der()


def gbcs_messages() -> st.SearchStrategy[bytes]:
    """Any valid GBCS frame: a command, a response or an alert."""
    return gbcs_commands() | gbcs_responses_and_alerts()


def mutated_gbcs_messages() -> st.SearchStrategy[bytes]:
    """A valid GBCS frame after one to four mutations (truncation, bit flips, bogus length
    fields, splices): `emulator.gbcs.frame.decode_frame` parses it or raises `GbcsFormatError`,
    and a device's `ActivationHandler` gives a verdict, never anything else."""
    return mutated(gbcs_messages())


# --- home files --------------------------------------------------------------------------------

HOME_PROFILES: tuple[str, ...] = ("cad", "hcalcs", "ihd", "ihd-opt1", "ppmid", "ppmid-opt1")
"""Shipped profiles a generated home's devices use."""

_names = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@st.composite
def home_dicts(draw, *, max_devices: int = 3) -> dict[str, Any]:
    """A valid home file as the dict `tomllib` reads from it (see docs/homes.md): one to
    `max_devices` devices of shipped profiles, zero to two `build` campaigns, and faults."""
    names = draw(st.lists(_names, min_size=1, max_size=max_devices, unique=True))
    devices = [{"name": n, "profile": draw(st.sampled_from(HOME_PROFILES))} for n in names]
    duration = draw(st.integers(60, 86400))
    campaigns = [
        {
            "device": draw(st.sampled_from(["*", *names])),
            "build": {
                "file_version": draw(st.integers(0, 0xFFFFFFFE)),
                "size": draw(st.integers(1, 8192)),
            },
            "at": draw(st.integers(0, duration)),
        }
        for _ in range(draw(st.integers(0, 2)))
    ]
    home: dict[str, Any] = {
        "home": {
            "name": draw(_names),
            "seed": draw(st.integers(0, 2**31)),
            "radio": "virtual",
            "duration": duration,
        },
        "device": devices,
        "faults": {
            "drop_rate": draw(st.sampled_from([0.0, 0.01, 0.1, 0.5])),
            "duplicate_rate": draw(st.sampled_from([0.0, 0.05, 1.0])),
            "corrupt_rate": draw(st.sampled_from([0.0, 0.01, 0.3])),
            "power_loss_at": draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]), max_size=3)),
        },
    }
    if campaigns:
        home["campaign"] = campaigns
    return home


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def to_toml(home: dict[str, Any]) -> str:
    """TOML text of a home dict: top-level tables and arrays of tables ([[device]])."""
    lines: list[str] = []
    for key, value in home.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for item in value:
                lines.append(f"[[{key}]]")
                lines.extend(f"{k} = {_toml_value(v)}" for k, v in item.items())
        else:
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def home_files(*, max_devices: int = 3) -> st.SearchStrategy[str]:
    """A valid home file as TOML text that `emulator.homefile.load_home` accepts."""
    return home_dicts(max_devices=max_devices).map(to_toml)


@st.composite
def broken_home_files(draw) -> str:
    """A home file `load_home` must refuse with `HomeFileError`: an unknown profile, a device
    name used twice, a rate out of range, an unknown key, a campaign with no image, a campaign
    naming nobody, no device at all, or text that is not TOML."""
    home = draw(home_dicts())
    kind = draw(
        st.sampled_from(
            ["profile", "twice", "rate", "key", "no-image", "nobody", "no-device", "syntax"]
        )
    )
    if kind == "syntax":
        return to_toml(home) + "\n[home\n"
    if kind == "profile":
        home["device"][0]["profile"] = "ihd-opt9"
    elif kind == "twice":
        home["device"].append(dict(home["device"][0]))
    elif kind == "rate":
        home["faults"]["drop_rate"] = draw(st.sampled_from([-0.1, 0.95, 2]))
    elif kind == "key":
        home[draw(st.sampled_from(["home", "faults"]))]["colour"] = "blue"
    elif kind == "no-image":
        home["campaign"] = [{"device": "*"}]
    elif kind == "nobody":
        home["campaign"] = [
            {"device": "nobody-" + draw(_names), "build": {"file_version": 2, "size": 10}}
        ]
    else:
        del home["device"]
    return to_toml(home)


# --- fault schedules -------------------------------------------------------------------------

rates = st.sampled_from([0.0, 0.0, 0.01, 0.05, 0.2]) | st.floats(0.0, 0.5)
"""Link fault rates: mostly small, sometimes none."""


@st.composite
def link_policies(draw, *, max_rate: float = 0.5) -> LinkPolicy:
    """An `emulator.ota.link.LinkPolicy`: drop, duplicate, reorder and corruption rates in
    0..max_rate, latency, jitter and reorder hold-back."""
    rate = rates.map(lambda r: min(r, max_rate))
    return LinkPolicy(
        drop=draw(rate),
        duplicate=draw(rate),
        reorder=draw(rate),
        corrupt=draw(rate),
        latency_s=draw(st.floats(0.0, 0.05)),
        jitter_s=draw(st.floats(0.0, 0.01)),
        reorder_delay_s=draw(st.floats(0.0, 0.2)),
    )


@st.composite
def power_cuts(draw, *, horizon_s: float = 3600.0) -> PowerCut:
    """An `emulator.device.emulated.PowerCut`: at a time within `horizon_s`, after the n-th
    flash operation, or when the download reaches a fraction of the file; off for 1..60 s."""
    off = draw(st.floats(1.0, 60.0))
    kind = draw(st.sampled_from(["time", "ops", "fraction"]))
    if kind == "time":
        return PowerCut(at_time=draw(st.floats(0.0, horizon_s)), off_for_s=off)
    if kind == "ops":
        return PowerCut(after_flash_ops=draw(st.integers(1, 500)), off_for_s=off)
    return PowerCut(at_fraction=draw(st.floats(0.0, 1.0)), off_for_s=off)


# --- misbehaving clients, for fuzzing someone's OTA server ----------------------------------

LEGRAND, INSTA = 4129, 4474
"""Manufacturer codes zigpy's OTA server sizes blocks by (uncapped; 40 octets)."""

MISBEHAVIOUR_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "use_page_requests": st.just(True),
    "claimed_max_data_size": st.sampled_from([0, 1, 64, 0xFF]) | u8,
    "stop_after_blocks": st.integers(0, 8),
    "shuffle_offsets": st.just(True),
    "misaligned_offset": st.integers(-80, 80).filter(bool),
    "fail_block_after": st.integers(0, 8),
    "malformed_request_after_blocks": st.integers(0, 8),
    "abort_after_blocks": st.integers(0, 8),
    "upgrade_end_after_blocks": st.integers(0, 8),
    "upgrade_end_status": st.sampled_from([0x01, 0x95, 0x96, 0x99]) | u8,
    "send_upgrade_end": st.just(False),
    "request_delay_ms": st.sampled_from([100, 1000, 5000, 31000, 61000]),
    "block_manufacturer_id": st.sampled_from([LEGRAND, INSTA, 0xFFFF, 0]) | u16,
    "block_image_type": st.sampled_from([0xFFFF, 0]) | u16,
    "duplicate_requests": st.just(True),
}
"""Each misbehaviour knob of `ClientPolicy` (and page requests) -> the values worth trying."""


@st.composite
def misbehaviours(draw, *, max_knobs: int = 3) -> dict[str, Any]:
    """A few misbehaviour knobs of `emulator.ota.policy.ClientPolicy` with values (none: a
    well-behaved client), for `ClientPolicy(**knobs)` or a profile's `[ota]` table."""
    names = draw(st.sets(st.sampled_from(sorted(MISBEHAVIOUR_VALUES)), max_size=max_knobs))
    return {name: draw(MISBEHAVIOUR_VALUES[name]) for name in sorted(names)}


@st.composite
def fault_schedules(draw, *, max_cuts: int = 3) -> tuple[LinkPolicy, tuple[PowerCut, ...]]:
    """A whole fault schedule for one run: a lossy link and up to `max_cuts` power cuts."""
    return draw(link_policies()), tuple(draw(st.lists(power_cuts(), max_size=max_cuts)))
