"""`hanemu home trigger URL DEVICE` against a home running in real time (two real processes and
the home's update server on loopback), its one-line errors, and the update server's own answers
to paths and methods it does not serve."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

HOME = """\
[home]
seed = 4
radio = "direct"
duration = 60

[[device]]
name = "ppmid one"
profile = "ppmid-opt3-reactive"
route = "wifi"
expect = "activated"

[[campaign]]
device = "ppmid one"
build = { file_version = 0x0123ABCE, size = 2048 }
trigger = "manual"
"""


def hanemu(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _server_url(process: subprocess.Popen[str], within: float = 30.0) -> str:
    """The update server's URL from the running home's stderr."""
    end = time.monotonic() + within
    assert process.stderr is not None
    while time.monotonic() < end:
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if ready:
            line = process.stderr.readline()
            if line.startswith("Wi-Fi update server: "):
                return line.split()[3]
    raise AssertionError("the home never printed its update server's URL")


def test_trigger_makes_a_device_of_a_real_time_home_check(tmp_path):
    path = tmp_path / "home.toml"
    path.write_text(HOME)
    home = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "home", "run", "--realtime", "--json", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _server_url(home)
        assert url.startswith("http://127.0.0.1:")
        time.sleep(1.0)  # the device has power 0.5 s after the start

        unknown = hanemu("home", "trigger", url, "nobody")
        assert unknown.returncode == 2 and unknown.stdout == ""
        assert unknown.stderr.count("\n") == 1 and "Traceback" not in unknown.stderr
        assert "no Wi-Fi device named 'nobody' (devices: ppmid one)" in unknown.stderr

        done = hanemu("home", "trigger", url, "ppmid one")
        assert done.returncode == 0, done.stderr
        assert done.stdout == "ppmid one: checking now\n"

        out, err = home.communicate(timeout=60)
    finally:
        if home.poll() is None:
            home.kill()
            home.communicate()
    assert home.returncode == 0, err
    (device,) = json.loads(out)["devices"]
    assert device["outcome"] == "activated" and device["reason"] == "installed over Wi-Fi"
    (check,) = [e for e in device["events"] if e["event"] == "wifi-check"]
    assert check["on"] == "trigger"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("not-a-url", "is not the http://HOST:PORT URL of an update server"),
        ("ftp://127.0.0.1:21", "is not the http://HOST:PORT URL"),
        ("http://127.0.0.1", "is not the http://HOST:PORT URL"),
        ("http://127.0.0.1:99999", "is not a URL"),
        ("http://127.0.0.1:8080/?x=1", "has no query or fragment"),
        ("http://127.0.0.1:CLOSED", "connection refused"),
    ],
)
def test_trigger_errors_are_one_line_exit_2(url, said):
    url = url.replace("CLOSED", str(_closed_port()))  # a port nothing listens on
    result = hanemu("home", "trigger", url, "ihd")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert said in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def server_url():
    """A real update server on an event loop in a thread, knowing one device."""
    import asyncio
    import threading

    from emulator.wifi.server import UpdateServer

    server = UpdateServer(lambda name: (202, "checking now") if name == "a/b c" else (404, "?"))
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        server.publish("a/b c", b'{"x":1}', "img one", b"\x00\x01")
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    yield server
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def _fetch(url: str, method: str = "GET") -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, method=method), timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_server_serves_what_was_published_under_any_name(server_url):
    server = server_url
    assert _fetch(server.manifest_url("a/b c")) == (200, b'{"x":1}')
    assert _fetch(server.image_url("img one")) == (200, b"\x00\x01")
    status, body = _fetch(server.check_url("a/b c"), "POST")
    assert status == 202 and json.loads(body) == {"device": "a/b c", "checking": "checking now"}
    from emulator.wifi.trigger import post_trigger

    assert post_trigger(server.url, "a/b c") == "checking now"


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/manifests/nobody.json", "GET", 404),
        ("/manifests/a%2Fb%20c", "GET", 404),
        ("/images/none", "GET", 404),
        ("/images/img%20one", "POST", 405),
        ("/devices/a%2Fb%20c/check", "GET", 405),
        ("/", "GET", 404),
        ("/../../etc/passwd", "GET", 404),
    ],
)
def test_the_server_answers_other_paths_with_one_json_line(server_url, path, method, status):
    got, body = _fetch(server_url.url + path, method)
    assert got == status
    assert set(json.loads(body)) == {"error"}
