"""`--zep HOST:PORT`: a running home streamed live as ZEP v2 over UDP, on loopback only.

Acceptance 6 of issue 11: tshark dissects the ZEP stream of a home run (the default home, run by
the CLI in its own process while this test listens) as ZEP -> IEEE 802.15.4 -> ZigBee NWK -> APS
-> ZCL or ZDP, with nothing malformed and one complete message for every frame of the run, OTA
Upgrade commands among them. The frames are the ones the same run writes to its pcap (a message
longer than one frame as its APS fragments), and a receiver that is not there, or a send the
system refuses, changes nothing about the run.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from tools import installed

from emulator.cli import cli
from emulator.errors import ScenarioError
from emulator.home import load_home, run_home
from emulator.radio.pcap import FRAGMENT_DATA
from emulator.radio.zep import ZepSink
from tests.home.test_home import small
from tests.home.test_pcap_tshark import OTA_NAMES

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HOME = ROOT / "profiles" / "homes" / "default.toml"
LINKTYPE_IPV4 = 228
NTP_UNIX_OFFSET = 2_208_988_800
RUN_LIMIT_S = 600
"""Only a guard against a hung run; nothing is asserted about time."""


def _receiver() -> socket.socket:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)  # the kernel caps it
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    return rx


def _drain(rx: socket.socket, into: list[tuple[bytes, int]]) -> None:
    while True:
        try:
            data, (_host, port) = rx.recvfrom(4096)
        except BlockingIOError:
            return
        into.append((data, port))


def _free_port() -> int:
    """A loopback UDP port nobody listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _zep_time(datagram: bytes) -> tuple[int, int]:
    """The ZEP timestamp as Unix seconds and microseconds (as Wireshark reads it)."""
    seconds, fraction = struct.unpack(">II", datagram[9:17])
    return seconds - NTP_UNIX_OFFSET, ((fraction * 1_000_000_000) >> 32) // 1000


def _write_ipv4_pcap(path: Path, datagrams: list[tuple[bytes, int]], port: int) -> None:
    """The datagrams as they crossed loopback: IPv4 + UDP (to `port`) + ZEP, one record each,
    stamped with the ZEP timestamp."""
    loopback = socket.inet_aton("127.0.0.1")
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_IPV4)]
    for n, (data, src_port) in enumerate(datagrams):
        udp = struct.pack("!HHHH", src_port, port, 8 + len(data), 0) + data
        ip = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            n & 0xFFFF,
            0x4000,
            64,
            17,
            0,
            loopback,
            loopback,
        )
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        seconds, micros = _zep_time(data)
        packet = ip + udp
        records.append(struct.pack("<IIII", seconds, micros, len(packet), len(packet)) + packet)
    path.write_bytes(b"".join(records))


def _pcap_records(path: Path) -> list[tuple[int, int, bytes]]:
    data = path.read_bytes()[24:]
    records = []
    while data:
        seconds, micros, length, _ = struct.unpack("<IIII", data[:16])
        records.append((seconds, micros, data[16 : 16 + length]))
        data = data[16 + length :]
    return records


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    """`hanemu home run --zep 127.0.0.1:PORT --pcap ... --report ...` on the default home, every
    datagram it sent received here, and written as an IPv4 pcap for tshark."""
    tshark = installed("tshark")
    tmp = tmp_path_factory.mktemp("zep")
    pcap, report_path = tmp / "home.pcap", tmp / "report.json"
    datagrams: list[tuple[bytes, int]] = []
    with _receiver() as rx:
        port = rx.getsockname()[1]
        args = ["home", "run", str(DEFAULT_HOME), "--zep", f"127.0.0.1:{port}"]
        args += ["--pcap", str(pcap), "--report", str(report_path), "--json"]
        with open(tmp / "stdout", "wb") as out, open(tmp / "stderr", "wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "emulator.cli", *args], stdout=out, stderr=err, cwd=ROOT
            )
            deadline = time.monotonic() + RUN_LIMIT_S
            while process.poll() is None:
                if time.monotonic() > deadline:
                    process.kill()
                    pytest.fail("the home run did not end")
                select.select([rx], [], [], 0.2)
                _drain(rx, datagrams)
        _drain(rx, datagrams)  # the sender is gone: everything it sent is here
    stderr = (tmp / "stderr").read_text()
    assert process.returncode == 0, stderr
    zep_pcap = tmp / "zep.pcap"
    _write_ipv4_pcap(zep_pcap, datagrams, port)
    report = json.loads(report_path.read_text())
    return tshark, port, zep_pcap, pcap, report, [d for d, _ in datagrams], stderr


def _fields(tshark: str, pcap: Path, display_filter: str, *fields: str, port: int | None = None):
    """tshark's `fields` for the frames `display_filter` keeps; `port` is dissected as ZEP."""
    args = [tshark, "-r", str(pcap), "-Y", display_filter, "-T", "fields", "-E", "separator=|"]
    if port is not None:
        args += ["-d", f"udp.port=={port},zep"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def _zep_fields(stream, display_filter: str, *fields: str) -> list[list[str]]:
    tshark, port, zep_pcap, *_ = stream
    return _fields(tshark, zep_pcap, display_filter, *fields, port=port)


def test_tshark_finds_nothing_malformed(stream):
    assert (
        _zep_fields(stream, "_ws.malformed || _ws.expert.severity == error", "frame.number") == []
    )
    # Every frame has an FCS and it checks (a flipped FCS bit is caught by this filter).
    assert _zep_fields(stream, "!(wpan.fcs_ok == 1)", "frame.number") == []


def test_every_datagram_is_zep_802154_nwk_aps(stream):
    *_, datagrams, stderr = stream
    rows = _zep_fields(stream, "frame", "frame.protocols", "zep.seqno", "zep.channel_id")
    assert len(rows) == len(datagrams)
    assert [int(seq) for _, seq, _ in rows] == list(range(1, len(datagrams) + 1))  # none lost
    for protocols, _seq, channel in rows:
        assert protocols.startswith("ip:udp:zep:wpan:zbee_nwk:zbee_aps"), protocols
        assert channel == "15"
    assert f"{len(datagrams)} datagrams" in stderr and f"{len(datagrams)} sent" in stderr


def test_one_whole_message_per_frame_of_the_run(stream):
    """tshark decodes ZCL or ZDP once per frame the run counted: a message longer than one
    802.15.4 frame arrives as APS fragments and is decoded once, reassembled."""
    *_, pcap, report, datagrams, _ = stream
    whole = _zep_fields(stream, "zbee_zcl || zbee_zdp", "frame.number")
    assert len(whole) == report["frames"] > 1000
    long = [len(frame) - 17 - 8 - 2 for *_, frame in _pcap_records(pcap) if len(frame) > 127]
    assert long  # GBCS messages on SE Tunneling
    fragments = sum(-(-n // FRAGMENT_DATA) for n in long)
    assert len(datagrams) == report["frames"] - len(long) + fragments
    reassembled = _zep_fields(stream, "zbee_aps.fragment.count", "zbee_aps.cluster")
    assert [cluster for (cluster,) in reassembled] == ["0x0704"] * len(long)


def test_ota_upgrade_commands_are_in_the_stream(stream):
    tshark, _, _, pcap, *_ = stream
    query = "zbee_aps.cluster == 0x0019 && zbee_zcl.type == 1"
    rows = _zep_fields(stream, query, "zbee_aps.profile", "_ws.col.Info")
    assert len(rows) == len(_fields(tshark, pcap, query, "frame.number")) > 0
    names = set()
    for profile, info in rows:
        assert profile == "0x0109" and "ZCL OTA: " in info, info
        names.add(info.split("ZCL OTA: ")[1].split(",")[0])
    assert names == OTA_NAMES


def _message(frames: list[bytes]) -> bytes:
    """One packet's MAC, NWK and APS bytes without FCS or sequence numbers, its APS fragments
    (if any) joined."""
    first = frames[0]
    aps = first[17:-2]
    if aps[0] & 0x80:
        assert aps[8:10] == bytes([1, len(frames)])
        aps = bytes([aps[0] & 0x7F]) + aps[1:8] + b"".join(f[27:-2] for f in frames)
    return first[:2] + first[3:16] + aps


def test_the_stream_carries_the_pcaps_frames_at_the_pcaps_times(stream):
    *_, pcap, _, datagrams, _ = stream
    frames = [d[32:] for d in datagrams]
    assert all(d[31] == len(f) <= 127 for d, f in zip(datagrams, frames, strict=True))
    at = 0
    for seconds, micros, frame in _pcap_records(pcap):
        count = frames[at][26] if frames[at][17] & 0x80 else 1  # first fragment: blocks
        group = frames[at : at + count]
        assert _message(group) == _message([frame])
        assert {_zep_time(d) for d in datagrams[at : at + count]} == {(seconds, micros)}
        at += count
    assert at == len(frames)


def test_no_receiver_changes_nothing(home_file):
    """Nobody listens on the port (as when Wireshark sniffs `lo`): every datagram still goes
    out and the run is the run without a stream."""
    config = load_home(home_file(small(size=2000)))
    with ZepSink("127.0.0.1", _free_port()) as sink:
        streamed = run_home(config, captures=[sink]).to_json()
    assert sink.frames == streamed["frames"] and sink.datagrams >= sink.frames
    assert (sink.sent, sink.failed) == (sink.datagrams, 0)
    assert streamed == run_home(config).to_json()


def test_sends_the_system_refuses_are_counted_and_the_run_goes_on(home_file):
    config = load_home(home_file(small(size=2000)))
    with ZepSink("127.0.0.1", 0) as sink:  # port 0: every send is refused (EINVAL)
        streamed = run_home(config, captures=[sink]).to_json()
    assert sink.sent == 0 and sink.failed == sink.datagrams > 0
    assert isinstance(sink.error, OSError)
    assert "refused" in sink.summary()
    assert streamed == run_home(config).to_json()


def test_the_direct_air_has_no_frames_to_stream(home_file):
    config = load_home(home_file(small()))
    with ZepSink("127.0.0.1", _free_port()) as sink, pytest.raises(ScenarioError, match="zigpy"):
        run_home(config, radio="direct", captures=[sink])
    result = CliRunner().invoke(cli, ["home", "run", "--radio", "direct", "--zep", "127.0.0.1:9"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "needs the zigpy radio" in result.stderr


@pytest.mark.parametrize(
    "value, words",
    [
        ("17754", "is not HOST:PORT"),
        ("127.0.0.1:0", "the port must be"),
        ("127.0.0.1:99999", "the port must be"),
        ("127.0.0.1:zep", "the port must be"),
        ("::1:17754", "is not HOST:PORT"),
        ("[::1]17754", "is not HOST:PORT"),
    ],
)
def test_bad_zep_values_are_one_line_exit_2(value, words):
    result = CliRunner().invoke(cli, ["home", "run", "--zep", value])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "--zep" in result.stderr and words in result.stderr
