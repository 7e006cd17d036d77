#!/usr/bin/env python3
"""Block exchanges per CPU-second through real ZCL bytes.

One block exchange = the client builds an Image Block Request, the server parses it and builds
the Image Block Response, the client parses that and stores the block: four codec operations plus
both state machines. Measured three ways:

  machines    OtaClient <-> OtaServer called directly (no clock, no link)
  simulation  one download through the scenario engine on the direct air (clock, links, flash)
  codec       the four codec operations alone

Then how OTA file parsing and checking scale with file size (1 MB vs 2 MB should be about 2x):
parse + Image Integrity Code (AES-MMO), and parse + GB supplier signature + Manufacturer Image
Hash (SHA-256 + ECDSA P-256).

Usage: scripts/bench.py [--size BYTES] [--seconds S] [--json] [--zigpy-only]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.device.campaign import ActivationPlan
from emulator.ota import client as oc
from emulator.ota import frames
from emulator.ota.client import ClientIdentity, OtaClient
from emulator.ota.frames import Send, Status
from emulator.ota.image import build_gb_image, build_image, parse_image
from emulator.ota.integrity import manufacturer_image_hash
from emulator.ota.policy import ClientPolicy, ServerPolicy
from emulator.ota.server import ImageStore, OtaServer
from emulator.ota.verify import verify_file
from emulator.scenario import CampaignSpec, DeviceSpec, Scenario, plain_identity, run
from emulator.testpki import derive_key

MFG, TYPE = 0x1234, 0x0101
IDENTITY = ClientIdentity(MFG, TYPE)


def make(size: int) -> tuple[bytes, bytes]:
    payload = random.Random(size).randbytes(size)
    new = build_image(payload, manufacturer_id=MFG, image_type=TYPE, file_version=2)
    old = build_image(b"old", manufacturer_id=MFG, image_type=TYPE, file_version=1)
    return old, new


def machines(image: bytes) -> tuple[int, float]:
    """One download, client and server handing bytes to each other directly."""
    store = ImageStore()
    store.add(image)
    server = OtaServer(store, ServerPolicy(block_size_cap=50))
    client = OtaClient(IDENTITY, ClientPolicy(verification="none"), rng=random.Random(1))
    now = 0.0
    pending: list = [oc.PowerRestored(1), oc.Start()]
    exchanges = 0
    start = time.process_time()
    while pending:
        event = pending.pop(0)
        for action in client.handle(event, now):
            kind = type(action)
            if kind is Send:
                for reply in server.handle(action.data, 0x4F2A, now):
                    pending.append(oc.FrameReceived(reply.data, 0x0000))
            elif kind is oc.ArmTimer and not pending:
                now += action.delay
                pending.append(oc.TimerFired(action.token))
            elif kind is oc.DiscoverServer:
                pending.append(oc.ServerFound(0x0000))
            elif kind is oc.ResolveServerEui:
                pending.append(oc.ServerEuiResolved(1))
            elif kind is oc.WriteSlot:
                exchanges += 1
            elif kind is oc.Activate:
                pending.clear()
                break
    return exchanges, time.process_time() - start


def simulation(old: bytes, image: bytes) -> tuple[int, float]:
    start = time.process_time()
    device = DeviceSpec(
        name="device",
        zigbee=plain_identity(MFG, TYPE, 1),
        policy=ClientPolicy(verification="none"),
        running_image=old,
    )
    scenario = Scenario(
        name="bench",
        devices=(device,),
        campaigns=(CampaignSpec(("device",), image=image, plan=ActivationPlan(mode="none")),),
        seed=1,
    )
    (result,) = run(scenario).devices
    assert result.outcome == "activated", result.reason
    return result.blocks, time.process_time() - start


def codec(image: bytes, seconds: float) -> tuple[int, float]:
    n = 0
    start = time.process_time()
    chunk = image[:50]
    while time.process_time() - start < seconds:
        for _ in range(200):
            req = frames.encode(
                "image_block",
                n,
                field_control=2,
                manufacturer_code=MFG,
                image_type=TYPE,
                file_version=2,
                file_offset=n * 50,
                maximum_data_size=63,
                minimum_block_period=0,
            )
            cmd = frames.decode(req).command
            rsp = frames.encode(
                "image_block_response",
                n,
                status=Status.SUCCESS,
                manufacturer_code=cmd.manufacturer_code,
                image_type=cmd.image_type,
                file_version=cmd.file_version,
                file_offset=cmd.file_offset,
                image_data=chunk,
            )
            frames.decode(rsp)
            n += 1
    return n, time.process_time() - start


def repeat(run, seconds: float) -> tuple[int, float]:
    """Run whole downloads until `seconds` of CPU time are spent; totals of all runs."""
    total_n, total_cpu = 0, 0.0
    while total_cpu < seconds:
        n, cpu = run()
        total_n += n
        total_cpu += cpu
    return total_n, total_cpu


def file_checks(megabytes: int) -> dict[str, float]:
    """CPU seconds to parse and check a Zigbee file with an integrity code and a GB file."""
    payload = random.Random(megabytes).randbytes(megabytes << 20)
    key = derive_key("supplier-a")
    zigbee = build_image(
        payload, manufacturer_id=MFG, image_type=TYPE, file_version=2, integrity=True
    )
    gb = build_gb_image(
        payload,
        manufacturer_id=MFG,
        image_type=TYPE,
        file_version=2,
        min_hw=1,
        max_hw=1,
        supplier_key=key,
    )
    digest = manufacturer_image_hash(payload)
    out = {}
    for name, data, kwargs in (
        ("zigbee-integrity", zigbee, {}),
        (
            "gb-signature-hash",
            gb,
            {"supplier_public_key": key.public_key(), "expected_hash": digest},
        ),
    ):
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            assert verify_file(parse_image(data), **kwargs).ok
            best = min(best, time.process_time() - start)
        out[name] = best
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256 * 1024, help="image payload bytes")
    parser.add_argument("--seconds", type=float, default=2.0, help="CPU seconds per measurement")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--zigpy-only", action="store_true", help="turn the struct fast path off (reference codec)"
    )
    args = parser.parse_args()
    if args.zigpy_only:
        frames._FAST_ENCODERS.clear()
        frames._FAST_DECODERS.clear()
    old, image = make(args.size)
    rows = {
        "machines": repeat(lambda: machines(image), args.seconds),
        "simulation": repeat(lambda: simulation(old, image), args.seconds),
        "codec": codec(image, args.seconds),
    }
    report = {
        name: {"exchanges": n, "cpu_s": round(cpu, 3), "per_cpu_s": round(n / cpu)}
        for name, (n, cpu) in rows.items()
    }
    one, two = file_checks(1), file_checks(2)
    scaling = {
        name: {
            "1MB_s": round(one[name], 4),
            "2MB_s": round(two[name], 4),
            "ratio": round(two[name] / one[name], 2),
        }
        for name in one
    }
    if args.json:
        print(json.dumps({**report, "file_checks": scaling}))
    else:
        for name, row in report.items():
            print(
                f"{name:<11} {row['per_cpu_s']:>8,} block exchanges per CPU-second "
                f"({row['exchanges']:,} in {row['cpu_s']} s)"
            )
        for name, row in scaling.items():
            print(
                f"{name:<18} 1 MB {row['1MB_s']:.4f} s, 2 MB {row['2MB_s']:.4f} s: {row['ratio']}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
