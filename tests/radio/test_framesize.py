"""The frame-size model and the one rule every air applies with it.

One unfragmented 802.15.4 frame carries at most 127 octets; with NWK security (always on) and
APS encryption (every GB HAN device: Smart Energy) an Image Block Response holds at most 56
octets of data. A 64-byte block on such a device is refused, on both airs, with a reason that
counts the octets layer by layer; the derived maximum fits and the download completes. Profiles,
home files and `ota simulate` take the derived size by default and refuse one that cannot fit."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import zigpy.types as t
from click.testing import CliRunner
from wire import device_of

from emulator import framesize
from emulator.cli import cli
from emulator.clock import VirtualClock, run_stepped
from emulator.device.campaign import ActivationPlan
from emulator.device.hub import CommsHub
from emulator.errors import HomeFileError, ProfileError
from emulator.framesize import NWK_ONLY, SMART_ENERGY, Layers, Security
from emulator.homefile import load_home
from emulator.ota import frames
from emulator.ota.link import LinkPolicy
from emulator.ota.policy import ClientPolicy, ServerPolicy
from emulator.ota.server import ImageStore, OtaServer
from emulator.profiles import OTA_CLUSTER, PROFILES_DIR, load_all, load_profile
from emulator.radio.channel import frame_s
from emulator.radio.direct import DirectAir
from emulator.radio.virtual import frames_of
from emulator.scenario import one_device, run

EXTENDED_NONCE = Security(aps_encryption=True, aps_extended_nonce=True)
REFUSED_64 = (
    "frame of 135 octets exceeds the 127-octet 802.15.4 PHY limit (MAC 11 + NWK 8 + "
    "NWK security 18 + APS 8 + APS security 9 + ZCL 3 + payload 78)"
)
"""The reason a 64-byte Image Block Response to an APS-encrypted device is refused: 3 octets of
ZCL header and 14 of fixed fields before the data, 54 octets of headers and security around it."""


def block_response(data_size: int) -> bytes:
    """The ZCL bytes of an Image Block Response carrying `data_size` octets, as the server
    builds it."""
    return frames.encode(
        "image_block_response",
        7,
        status=frames.Status.SUCCESS,
        manufacturer_code=0x1234,
        image_type=0x0101,
        file_version=2,
        file_offset=0,
        image_data=bytes(data_size),
    )


# --- the derived numbers --------------------------------------------------------------------


def test_every_layer_is_counted_octet_by_octet():
    assert framesize.layers(SMART_ENERGY) == Layers(
        mac=9 + 2, nwk=8, nwk_security=14 + 4, aps=8, aps_security=5 + 4
    )
    assert framesize.layers(NWK_ONLY).aps_security == 0
    assert framesize.layers(EXTENDED_NONCE).aps_security == 5 + 8 + 4
    assert framesize.layers(SMART_ENERGY).total == 54


def test_the_largest_aps_payload_agrees_with_emberznet():
    """EmberZNet: EMBER_AF_MAXIMUM_APS_PAYLOAD_LENGTH 82 with NWK security (100 without, so NWK
    security costs 18), less EMBER_AF_APS_ENCRYPTION_OVERHEAD 9 with APS encryption."""
    assert framesize.max_aps_payload(NWK_ONLY) == 82
    assert framesize.max_aps_payload(NWK_ONLY) + framesize.NWK_AUX_HEADER + framesize.NWK_MIC == 100
    assert framesize.max_aps_payload(SMART_ENERGY) == 82 - 9 == 73
    assert framesize.max_aps_payload(EXTENDED_NONCE) == 65


def test_the_largest_block_is_what_emberznets_server_serves():
    """ota-server-policy.c: maxApsPayload - (ZCL overhead 3 + Image Block Response fields 14)."""
    assert framesize.max_block_data(NWK_ONLY) == 82 - 17 == 65
    assert framesize.max_block_data(SMART_ENERGY) == 73 - 17 == 56
    assert framesize.max_block_data(EXTENDED_NONCE) == 65 - 17 == 48
    assert framesize.DEFAULT_MAX_BLOCK_DATA == 56


@pytest.mark.parametrize("security", [NWK_ONLY, SMART_ENERGY, EXTENDED_NONCE], ids=str)
def test_a_block_of_the_derived_maximum_fills_one_frame_exactly(security):
    most = framesize.max_block_data(security)
    fits = block_response(most)
    assert len(fits) == framesize.max_aps_payload(security)
    assert framesize.psdu_octets(len(fits), security) == 127
    assert framesize.oversize(fits, security) is None
    one_more = framesize.oversize(block_response(most + 1), security)
    assert one_more is not None and one_more.startswith("frame of 128 octets exceeds")


def test_a_64_byte_block_on_an_aps_encrypted_device_is_refused_with_a_clear_reason():
    assert framesize.oversize(block_response(64), SMART_ENERGY) == REFUSED_64
    assert framesize.oversize(block_response(64), NWK_ONLY) is None  # 64 fits without APS


def test_the_reason_names_a_manufacturer_specific_header_and_leaves_out_what_is_absent():
    data = bytes([0x05, 0x34, 0x12, 0x01, 0x00]) + bytes(80)  # manufacturer-specific ZCL
    reason = framesize.oversize(data, NWK_ONLY)
    assert reason is not None
    assert reason.endswith("(MAC 11 + NWK 8 + NWK security 18 + APS 8 + ZCL 5 + payload 80)")
    zdo = framesize.refusal(
        bytes(90), SMART_ENERGY, profile_id=0x0000, cluster_id=0x8004, unicast=True
    )
    assert zdo is not None and zdo.endswith("+ APS 8 + payload 90)")  # ZDO: no APS security


def test_which_frames_are_aps_encrypted():
    def security(**frame) -> Security:
        return framesize.frame_security(SMART_ENERGY, **frame)

    assert security(profile_id=0x0109, cluster_id=OTA_CLUSTER, unicast=True) == SMART_ENERGY
    assert security(profile_id=0x0109, cluster_id=OTA_CLUSTER, unicast=False) == NWK_ONLY
    assert security(profile_id=0x0109, cluster_id=0x0800, unicast=True) == NWK_ONLY
    assert security(profile_id=0x0000, cluster_id=0x0005, unicast=True) == NWK_ONLY
    plain = framesize.frame_security(
        NWK_ONLY, profile_id=0x0109, cluster_id=OTA_CLUSTER, unicast=True
    )
    assert plain == NWK_ONLY


def test_tunnel_messages_are_fragmented_never_refused():
    """GBCS messages over SE Tunneling are far longer than one frame: APS fragmentation carries
    them (2 octets of fragment header a frame), and air time counts every fragment."""
    big = bytes(300)
    assert (
        framesize.refusal(
            big,
            SMART_ENERGY,
            profile_id=0x0109,
            cluster_id=framesize.TUNNELING_CLUSTER,
            unicast=True,
        )
        is None
    )
    assert framesize.refusal(
        big, SMART_ENERGY, profile_id=0x0109, cluster_id=framesize.TUNNELING_CLUSTER, unicast=False
    )
    room = 73 - 2
    frames_needed = -(-300 // room)  # 5, each with the 2-octet header and 300 / 5 octets
    assert framesize.frames(300, SMART_ENERGY, fragmented=True) == (
        54 + 2 + 300 // frames_needed,
        frames_needed,
    )
    assert framesize.frames(50, SMART_ENERGY, fragmented=True) == (54 + 50, 1)


@pytest.mark.parametrize("security", [NWK_ONLY, SMART_ENERGY, EXTENDED_NONCE])
@pytest.mark.parametrize(
    ("profile_id", "cluster_id", "unicast"),
    [
        (framesize.SMART_ENERGY_PROFILE, OTA_CLUSTER, True),
        (framesize.SMART_ENERGY_PROFILE, OTA_CLUSTER, False),
        (framesize.SMART_ENERGY_PROFILE, framesize.TUNNELING_CLUSTER, True),
        (framesize.SMART_ENERGY_PROFILE, framesize.KEY_ESTABLISHMENT_CLUSTER, True),
        (framesize.ZDO_PROFILE, 0x0006, True),
    ],
)
def test_room_is_exactly_the_longest_payload_the_rule_lets_through(
    security, profile_id, cluster_id, unicast
):
    room = framesize.room(security, profile_id=profile_id, cluster_id=cluster_id, unicast=unicast)
    for length in range(200):
        reason = framesize.refusal(
            bytes(length), security, profile_id=profile_id, cluster_id=cluster_id, unicast=unicast
        )
        assert (reason is None) == (length <= room)


def _to_node(cluster: int, data: bytes) -> t.ZigbeePacket:
    """A Smart Energy unicast from the coordinator to node 0x2345."""
    return t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000),
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x2345),
        src_ep=1,
        dst_ep=1,
        profile_id=0x0109,
        cluster_id=cluster,
        data=t.SerializableBytes(data),
    )


def test_a_frame_counts_every_octet():
    """A 56-byte block to an APS-encrypted node: PHY 6 + MAC 11 + NWK 8 + NWK security 18 +
    APS 8 + APS security 9 + 73 octets of ZCL = 133 octets at 250 kbit/s; a ZDO frame carries
    no APS security."""
    packet = _to_node(OTA_CLUSTER, block_response(56))
    assert frames_of(packet, SMART_ENERGY) == (127, 1)
    assert frame_s(6 + 127) == pytest.approx(133 * 8 / 250_000)
    assert frames_of(packet, NWK_ONLY) == (118, 1)
    zdo = packet.replace(profile_id=0x0000, cluster_id=0x0013, src_ep=0, dst_ep=0)
    assert frames_of(zdo, SMART_ENERGY) == (118, 1)


def test_a_long_tunnel_message_is_cut_into_fragments():
    """300 octets of SE Tunneling to an APS-encrypted node: fragments of at most 71 octets of
    payload (73 less the 2-octet fragmentation header), so 5 frames of 60 + 2 + 54 octets."""
    packet = _to_node(0x0704, bytes(300))
    assert frames_of(packet, SMART_ENERGY) == (54 + 2 + 60, 5)
    broadcast = packet.replace(
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=0xFFFD)
    )
    assert frames_of(broadcast, NWK_ONLY) == (45 + 300, 1)  # one frame, too big: refused


# --- the defaults that follow from it -------------------------------------------------------


def test_policies_and_profiles_default_to_the_derived_maximum():
    assert ClientPolicy().max_data_size == ServerPolicy().block_size_cap == 56
    for profile in load_all():
        assert profile.zigbee.security == SMART_ENERGY, profile.name  # GB HAN: SE devices
        assert profile.ota.max_data_size == framesize.max_block_data(SMART_ENERGY), profile.name


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    """A copy of the shipped profiles plus `write(name, text)` for one more."""
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "profiles"
    shutil.copytree(PROFILES_DIR, directory, ignore=shutil.ignore_patterns("homes", "*.md"))

    def write(name: str, text: str) -> Path:
        (directory / f"{name}.toml").write_text(f'extends = "ihd"\ndescription = "{name}"\n{text}')
        return directory

    return write


def test_a_profile_derives_its_block_size_from_its_security(profiles):
    directory = profiles("open", "[zigbee]\naps_encryption = false\n")
    profiles("nonce", "[zigbee]\naps_extended_nonce = true\n")
    assert load_profile("open", directory).ota.max_data_size == 65
    assert load_profile("nonce", directory).ota.max_data_size == 48
    assert load_profile("ihd", directory).ota.max_data_size == 56


def test_a_profile_keeps_a_stated_block_size_that_fits(profiles):
    directory = profiles("small", "[ota]\nmax_data_size = 40\n")
    profiles("open", "[zigbee]\naps_encryption = false\n[ota]\nmax_data_size = 64\n")
    assert load_profile("small", directory).ota.max_data_size == 40
    assert load_profile("open", directory).ota.max_data_size == 64


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[ota]\nmax_data_size = 64\n", "ota.max_data_size", "64 octets of block data"),
        ("[ota]\nmax_data_size = 57\n", "ota.max_data_size", "with APS encryption (at most 56)"),
        (
            "[zigbee]\naps_extended_nonce = true\n[ota]\nmax_data_size = 56\n",
            "ota.max_data_size",
            "with APS encryption with extended nonce (at most 48)",
        ),
        ("[ota]\nmax_data_size = 255\n", "ota.max_data_size", "cannot fit one unfragmented"),
        ("[ota]\nmax_data_size = 0\n", "ota.max_data_size", "[1, 255]"),
        ("[ota]\nmax_data_size = 100000000000000000000\n", "ota.max_data_size", "[1, 255]"),
        (
            "[zigbee]\naps_encryption = false\naps_extended_nonce = true\n",
            "zigbee.aps_extended_nonce",
            "part of APS encryption",
        ),
        ('[zigbee]\naps_encryption = "yes"\n', "zigbee.aps_encryption", "boolean"),
    ],
)
def test_a_profile_block_size_that_cannot_fit_is_refused_naming_file_and_key(
    profiles, text, key, words
):
    directory = profiles("bad", text)
    with pytest.raises(ProfileError) as caught:
        load_profile("bad", directory)
    message = str(caught.value)
    assert message.startswith(f"profiles/bad.toml: key {key}: "), message
    assert words in message and "\n" not in message


HOME = """
[server]
{server}
[[device]]
name = "a"
profile = "{profile}"
"""


def test_a_home_serves_what_fits_its_devices_by_default(profiles, tmp_path):
    directory = profiles("open", "[zigbee]\naps_encryption = false\n")
    home = tmp_path / "home.toml"
    home.write_text(HOME.format(server="", profile="ihd"))
    assert load_home(home, profiles_dir=directory).server.max_block_size == 56
    home.write_text(HOME.format(server="", profile="open"))
    assert load_home(home, profiles_dir=directory).server.max_block_size == 65
    home.write_text(HOME.format(server="max_block_size = 64", profile="open"))
    assert load_home(home, profiles_dir=directory).server.max_block_size == 64
    home.write_text(HOME.format(server="max_block_size = 50", profile="ihd"))
    assert load_home(home, profiles_dir=directory).server.max_block_size == 50


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("64", "64 octets of block data cannot fit one unfragmented 127-octet 802.15.4 frame"),
        ("57", "(at most 56; APS encryption)"),
        ("0", "must be in 1..255, got 0"),
        ("256", "must be in 1..255, got 256"),
        ('"big"', "integer"),
    ],
)
def test_a_home_block_size_that_cannot_fit_is_refused_naming_file_and_key(
    profiles, tmp_path, value, words
):
    directory = profiles("unused", "")
    home = tmp_path / "home.toml"
    home.write_text(HOME.format(server=f"max_block_size = {value}", profile="ihd"))
    with pytest.raises(HomeFileError) as caught:
        load_home(home, profiles_dir=directory)
    message = str(caught.value)
    assert message.startswith("home.toml: key server.max_block_size: "), message
    assert words in message


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--max-data-size", "64"], "'--max-data-size': 64 octets of block data cannot fit"),
        (["--max-data-size", "255"], "with APS encryption (at most 56)"),
        (["--max-data-size", "0"], "not in the range"),
        (["--max-data-size", "99999999999999999999"], "not in the range"),
        (["--server-block-cap", "57"], "'--server-block-cap': 57 octets of block data"),
    ],
)
def test_ota_simulate_refuses_a_block_size_that_cannot_fit_in_one_line(args, words):
    result = CliRunner().invoke(cli, ["ota", "simulate", "--profile", "ihd-opt1", *args])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert words in result.output


# --- the airs refuse what does not fit --------------------------------------------------------


def test_the_direct_air_refuses_an_oversize_frame_and_records_why():
    clock = VirtualClock()
    air = DirectAir(clock=clock, rng=random.Random(1), faults=LinkPolicy(jitter_s=0.0))
    hub = CommsHub(OtaServer(ImageStore()), clock, air.hub_send)
    run_stepped(air.start(hub))
    device = device_of(clock, "ihd-opt1")
    air.attach(device, model="test")

    air.hub_send(device.nwk, OTA_CLUSTER, block_response(64), None)
    clock.run_until(1.0)
    assert air.frames == 0  # never reached the air
    [event] = [e for e in device.events if e["event"] == framesize.OVERSIZE_EVENT]
    assert event == {
        "t": 0.0,
        "event": "oversize-frame",
        "from": "hub",
        "cluster": "0x0019",
        "reason": REFUSED_64,
    }

    air.hub_send(device.nwk, OTA_CLUSTER, block_response(56), None)
    clock.run_until(2.0)
    assert air.frames == 1


@pytest.mark.parametrize("radio", ["direct", "zigpy"])
def test_a_64_byte_block_fails_the_download_on_both_airs_and_the_derived_maximum_fits(radio):
    """The server is told to serve 64-byte blocks to a client that asks for them: every block
    response is refused, the client gives up, and the report says why. With the derived 56 the
    same device downloads and activates, and nothing is refused."""

    def simulate(size: int | None):
        scenario = one_device(
            profile=load_profile("ihd-opt1"),
            image=None,
            plan=ActivationPlan(),
            image_size=4096,
            max_data_size=size,
            server=None if size is None else ServerPolicy(block_size_cap=size),
            radio=radio,
            seed=3,
        )
        return run(scenario).devices[0]

    refused = simulate(64)
    assert refused.outcome == "failed"
    assert refused.blocks == 0
    assert refused.oversize_frames == ClientPolicy().download_error_threshold
    assert refused.oversize_reason == REFUSED_64
    assert refused.reason is not None and REFUSED_64 in refused.reason
    assert refused.to_json()["oversize_frames"] == refused.oversize_frames

    fits = simulate(None)  # the derived maximum: 56
    assert fits.outcome == "activated", fits.reason
    assert fits.oversize_frames == 0 and fits.oversize_reason is None
    assert fits.blocks == -(-fits.bytes // 56)
