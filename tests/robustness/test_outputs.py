"""Outputs are written whole and checked before the run: `home run --report/--pcap`.

Each test is a defect `hanemu home run` had: a pcap write error printed 1,177 tracebacks, a bad
`--report` path was found only after the whole run, one path given to both `--report` and
`--pcap` kept only the JSON, and an output path naming the home file overwrote it.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.errors import OutputError
from emulator.outputs import AtomicFile, check_outputs, write_atomic
from emulator.radio.pcap import PcapWriter

from .conftest import GB_IMAGE, PROJECT, invoke

HOMES = PROJECT / "profiles" / "homes"
LOSSY = HOMES / "lossy.toml"
needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")


def one_line_exit_2(result, *words: str) -> str:
    """The command failed as bad input should: exit 2, one stderr line naming what was wrong."""
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line, result.stderr
    for word in words:
        assert word in line, line
    return line


def nothing_but(directory: Path, *names: str) -> None:
    assert sorted(p.name for p in directory.iterdir()) == sorted(names)


def pcap_records(data: bytes) -> int:
    """How many records a pcap holds; fails unless its records end exactly at its end."""
    assert len(data) >= 24, "pcap shorter than its global header"
    magic, _major, _minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack(
        "<IHHiIII", data[:24]
    )
    assert (magic, linktype) == (0xA1B2C3D4, 195)
    offset, records = 24, 0
    while offset < len(data):
        assert offset + 16 <= len(data), f"record header torn at byte {offset}"
        _s, _us, included, original = struct.unpack("<IIII", data[offset : offset + 16])
        assert included == original and 0 < included <= 65535  # the snap length
        offset += 16 + included
        assert offset <= len(data), f"record torn: {offset - len(data)} bytes missing"
        records += 1
    return records


# -- checked before the run -----------------------------------------------------------------------


@needs_dev_full
def test_pcap_to_dev_full_is_one_line_naming_it():
    """Used to print 1,177 tracebacks (and, as root, could have replaced the device node)."""
    result = invoke("home", "run", LOSSY, "--pcap", "/dev/full")
    line = one_line_exit_2(result, "--pcap /dev/full", "not a regular file")
    assert line == "error: --pcap /dev/full: not a regular file (a character device)"


def test_pcap_in_a_directory_that_cannot_be_written_is_refused(tmp_path):
    result = invoke("home", "run", LOSSY, "--pcap", "/proc/hanemu.pcap")
    one_line_exit_2(result, "--pcap /proc/hanemu.pcap", "cannot write in /proc")
    if os.geteuid() != 0:  # root writes anywhere the file system lets it
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        result = invoke("home", "run", LOSSY, "--pcap", locked / "x.pcap")
        one_line_exit_2(result, "x.pcap", "cannot write in")


def test_a_bad_report_path_is_found_before_the_run(tmp_path):
    """Used to be found after the whole run: the pcap was already written."""
    pcap = tmp_path / "run.pcap"
    result = invoke(
        "home", "run", LOSSY, "--report", tmp_path / "missing" / "r.json", "--pcap", pcap
    )
    one_line_exit_2(result, "--report", "no such directory")
    nothing_but(tmp_path)  # the network never started: no pcap


def test_one_path_for_report_and_pcap_is_refused(tmp_path):
    """Used to keep only the JSON (the pcap written, then overwritten by the report)."""
    out = tmp_path / "out"
    result = invoke("home", "run", LOSSY, "--report", out, "--pcap", tmp_path / "." / "out")
    one_line_exit_2(result, "--pcap", "the same file as --report")
    nothing_but(tmp_path)


def test_an_output_naming_the_home_file_is_refused(tmp_path):
    """Used to overwrite the home file with the report."""
    home = tmp_path / "home.toml"
    home.write_bytes(LOSSY.read_bytes())
    (tmp_path / "link.toml").symlink_to(home)
    for option in ("--report", "--pcap"):
        for given in (home, tmp_path / "link.toml"):
            result = invoke("home", "run", home, option, given)
            one_line_exit_2(result, option, "would overwrite the home file")
    assert home.read_bytes() == LOSSY.read_bytes()
    nothing_but(tmp_path, "home.toml", "link.toml")


def test_an_output_naming_a_campaign_image_or_a_profile_is_refused(tmp_path):
    image = tmp_path / "gb.ota"
    image.write_bytes(GB_IMAGE.read_bytes())
    home = tmp_path / "home.toml"
    home.write_text(
        '[[device]]\nname = "h"\nprofile = "hcalcs-opt1"\n\n'
        '[[campaign]]\ndevice = "h"\nimage = "gb.ota"\n'
    )
    result = invoke("home", "run", home, "--pcap", image)
    one_line_exit_2(result, "--pcap", "would overwrite the image of campaign[0]")
    assert image.read_bytes() == GB_IMAGE.read_bytes()
    for name in ("hcalcs-opt1", "hcalcs"):  # the device's profile and the one it extends
        profile = PROJECT / "profiles" / f"{name}.toml"
        before = profile.read_bytes()
        result = invoke("home", "run", home, "--report", profile)
        one_line_exit_2(result, "--report", f"would overwrite the profile file of {name}")
        assert profile.read_bytes() == before


def test_check_outputs_refuses_a_directory_and_a_fifo(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="is a directory"):
        check_outputs({"--report": tmp_path}, [])
    with pytest.raises(OutputError, match=r"not a regular file \(a FIFO\)"):
        check_outputs({"--pcap": fifo}, [])
    nothing_but(tmp_path, "fifo")


# -- a write error during the run ----------------------------------------------------------------


def test_a_pcap_write_error_during_the_run_is_one_line_and_leaves_nothing(tmp_path):
    """A disk that fills up during the run (here: a file size limit) is one error, exit 2."""
    pcap = tmp_path / "run.pcap"

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    result = subprocess.run(
        [sys.executable, "-m", "emulator.cli", "home", "run", str(LOSSY), "--pcap", str(pcap)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=small_files,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: {pcap}: cannot write: File too large\n"
    nothing_but(tmp_path)


@needs_dev_full
def test_pcap_writer_keeps_its_first_write_error_and_writes_nothing(tmp_path):
    target = tmp_path / "x.pcap"
    out = AtomicFile(target)
    out.stream.close()
    out.stream = open("/dev/full", "wb", buffering=0)  # noqa: SIM115  (closed by the writer)
    errors = []
    writer = PcapWriter(out, on_error=lambda: errors.append(1))
    writer._put(b"more")  # nothing more is tried
    assert len(errors) == 1 and isinstance(writer.error, OutputError)
    with pytest.raises(OutputError, match=r"x\.pcap: cannot write: No space left on device"):
        writer.close()
    nothing_but(tmp_path)


# -- written whole -------------------------------------------------------------------------------


def test_a_whole_run_writes_a_complete_report_and_pcap(tmp_path):
    report, pcap = tmp_path / "r.json", tmp_path / "p.pcap"
    result = invoke("home", "run", LOSSY, "--report", report, "--pcap", pcap, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(report.read_text())
    assert data == json.loads(result.stdout) and "interrupted" not in data
    assert pcap_records(pcap.read_bytes()) > 0
    nothing_but(tmp_path, "r.json", "p.pcap")


def test_write_atomic_replaces_whole_and_keeps_the_usual_mode(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    nothing_but(tmp_path, "r.json")


def test_write_atomic_through_a_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_an_abandoned_file_leaves_the_old_one(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), AtomicFile(target) as out:
        out.write(b"half of the new")
        raise RuntimeError("the run failed")
    assert target.read_text() == "old"
    nothing_but(tmp_path, "r.json")


def test_home_runs_table_to_a_reader_that_went_away_ends_quietly():
    """Rich's own answer to a broken pipe was exit 1, the code for a failed check."""
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "home", "run", HOMES / "negative.toml"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()  # the reader is gone before the table is printed
    stderr = process.stderr.read()
    assert (process.wait(timeout=60), stderr) == (0, "")
