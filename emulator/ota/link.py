"""A seeded, lossy radio link between two OTA peers, as pure scheduling decisions.

This module owns the fault model of the air between a client and a server: each transmitted
frame may be dropped, duplicated, delayed (jitter), held back so later frames overtake it
(reordering), or corrupted (one bit flipped, as if no MAC CRC or NWK MIC caught it). `Link.transmit`
returns when and what arrives; the driver schedules the deliveries. Every random choice comes from
the `random.Random` it is given. It never schedules, sleeps or touches I/O itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from emulator.errors import PolicyError


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    corrupt: float = 0.0
    latency_s: float = 0.0
    """One-way delay of every frame beyond its time on the channel (`radio.channel`), e.g. a
    slow relay."""
    jitter_s: float = 0.0
    """Uniform extra delay in [0, jitter_s)."""
    reorder_delay_s: float = 0.05
    """A reordered frame is held back by up to this long, so later frames overtake it."""

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "reorder", "corrupt"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise PolicyError(f"link {name} rate must be in [0, 1], got {value!r}")
        for name in ("latency_s", "jitter_s", "reorder_delay_s"):
            if getattr(self, name) < 0:
                raise PolicyError(f"link {name} must not be negative")


@dataclass(slots=True)
class LinkStats:
    sent: int = 0
    delivered: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    corrupted: int = 0


class Link:
    """One direction of the air."""

    def __init__(self, policy: LinkPolicy, rng: random.Random) -> None:
        self.policy = policy
        self.rng = rng
        self.stats = LinkStats()
        # A link with no faults draws only the jitter: `transmit` takes a shortcut that draws
        # exactly what the full path would (the same RNG calls, in the same order).
        self._clean = not (policy.drop or policy.duplicate or policy.reorder or policy.corrupt)

    def transmit(self, data: bytes) -> list[tuple[float, bytes]]:
        """(delay, bytes) of every copy of `data` that arrives."""
        p = self.policy
        rng = self.rng
        stats = self.stats
        if self._clean:
            stats.sent += 1
            stats.delivered += 1
            if p.jitter_s:
                return [(p.latency_s + rng.random() * p.jitter_s, data)]
            return [(p.latency_s + 0.0, data)]
        stats.sent += 1
        if p.drop and rng.random() < p.drop:
            self.stats.dropped += 1
            return []
        copies = 1
        if p.duplicate and rng.random() < p.duplicate:
            copies = 2
            self.stats.duplicated += 1
        out = []
        for _ in range(copies):
            delay = p.latency_s + (rng.random() * p.jitter_s if p.jitter_s else 0.0)
            if p.reorder and rng.random() < p.reorder:
                delay += rng.random() * p.reorder_delay_s
                self.stats.reordered += 1
            payload = data
            if p.corrupt and data and rng.random() < p.corrupt:
                index = rng.randrange(len(data))
                flipped = data[index] ^ (1 << rng.randrange(8))
                payload = data[:index] + bytes([flipped]) + data[index + 1 :]
                self.stats.corrupted += 1
            out.append((delay, payload))
        self.stats.delivered += len(out)
        return out
