"""The emulated device's flash: running image, download slot, and the slot's record.

This module owns persistence with the guarantees DESIGN.md rule 7 asks for: the slot record
(FileOffset, DownloadedFileVersion, ...) is replaced atomically, so a power loss at any instant
leaves the old or the new record, never a torn one; slot data may be written ahead of its record
(those bytes are simply fetched again); the running image only changes in `activate()`, also
atomically. `MemoryFlash` keeps everything in memory (virtual-time simulations, fleets);
`FileFlash` keeps it in a directory (write, fsync, rename). Records carry a CRC, and one that fails
it reads as "no record". It never decides protocol behaviour: the OTA client says what to write.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zlib
from collections import OrderedDict
from pathlib import Path

import construct as c

from emulator.ota.client import DownloadRecord, PowerRestored, image_stamp
from emulator.ota.image import parse_header

RECORD_MAGIC = b"HSLT"
RECORD_VERSION = 1

_RECORD_BODY = c.Struct(
    "magic" / c.Const(RECORD_MAGIC),
    "version" / c.Const(RECORD_VERSION, c.Int8ul),
    "manufacturer_id" / c.Int16ul,
    "image_type" / c.Int16ul,
    "file_version" / c.Int32ul,
    "image_size" / c.Int32ul,
    "file_offset" / c.Int32ul,
    "stack_version" / c.Int16ul,
)
RECORD_BODY_LENGTH = _RECORD_BODY.sizeof()
_RECORD_CRC = c.Int32ul


def encode_record(record: DownloadRecord) -> bytes:
    """Bytes of a slot record: fields, then CRC-32 of the fields."""
    body = _RECORD_BODY.build(
        {
            "manufacturer_id": record.manufacturer_id,
            "image_type": record.image_type,
            "file_version": record.file_version,
            "image_size": record.image_size,
            "file_offset": record.file_offset,
            "stack_version": record.stack_version,
        }
    )
    return body + _RECORD_CRC.build(zlib.crc32(body))


def decode_record(data: bytes) -> DownloadRecord | None:
    """The record in `data`, or None if it is absent, torn or fails its CRC."""
    if len(data) != RECORD_BODY_LENGTH + 4:
        return None
    body = data[:RECORD_BODY_LENGTH]
    if _RECORD_CRC.parse(data[RECORD_BODY_LENGTH:]) != zlib.crc32(body):
        return None
    try:
        f = _RECORD_BODY.parse(body)
    except c.ConstructError:
        return None
    record = DownloadRecord(
        f.manufacturer_id,
        f.image_type,
        f.file_version,
        f.image_size,
        f.file_offset,
        f.stack_version,
    )
    if record.file_offset > record.image_size:
        return None
    return record


class SharedImages:
    """Identical image bytes held once: devices that activate the same download (a fleet's
    campaign) keep one `bytes` object between them instead of a copy each. By content (SHA-256);
    the most recently shared images are kept, up to `max_bytes` of them."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._images: OrderedDict[bytes, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def share(self, data: bytes | bytearray | memoryview) -> bytes:
        """`bytes(data)`, as the one object already held for these bytes when there is one."""
        digest = hashlib.sha256(data).digest()
        with self._lock:
            held = self._images.get(digest)
            if held is not None and held == data:
                self._images.move_to_end(digest)
                return held
            image = bytes(data)
            if len(image) <= self.max_bytes:
                self._images[digest] = image
                self._bytes += len(image)
                while self._bytes > self.max_bytes:
                    _, dropped = self._images.popitem(last=False)
                    self._bytes -= len(dropped)
            return image


SHARED_IMAGES = SharedImages()
"""Where `MemoryFlash.activate` puts the image it now runs."""


class MemoryFlash:
    """Flash in memory. `running` is the running OTA file; `slot` the download slot."""

    def __init__(self, running: bytes) -> None:
        self.running = bytes(running)
        self.slot = bytearray()
        # The committed record. In memory a commit is one assignment, so the object itself is
        # kept and its bytes are made on demand; `_raw` holds bytes put there by other means.
        self._record: DownloadRecord | None = None
        self._raw: bytes | None = None
        self.writes = 0
        self.commits = 0
        self.activations = 0

    # The three operations the OTA client's actions map onto.

    def write_slot(self, offset: int, data: bytes) -> None:
        slot = self.slot
        if offset == len(slot):  # the next block of a download: appended
            slot += data
        else:
            end = offset + len(data)
            if len(slot) < end:
                slot.extend(bytes(end - len(slot)))
            slot[offset:end] = data
        self.writes += 1

    def commit_record(self, record: DownloadRecord | None) -> None:
        self._record, self._raw = record, None
        self.commits += 1

    def activate(self) -> int:
        """Make the complete slot the running image; returns the new running file version."""
        record = self.record
        if record is None or not record.complete:
            raise ValueError("no complete image in the download slot")
        self.running = SHARED_IMAGES.share(memoryview(self.slot)[: record.image_size])
        self._record, self._raw = None, None
        self.slot = bytearray()
        self.activations += 1
        return self.running_version

    # Reading.

    @property
    def record(self) -> DownloadRecord | None:
        """The committed record, or None when there is none or it fails its checks."""
        return self._record if self._raw is None else decode_record(self._raw)

    @property
    def record_bytes(self) -> bytes:
        if self._raw is not None:
            return self._raw
        return b"" if self._record is None else encode_record(self._record)

    def corrupt_record(self, data: bytes) -> None:
        """Put arbitrary bytes where the record lives (to test torn or foreign records)."""
        self._record, self._raw = None, bytes(data)

    @property
    def running_version(self) -> int:
        return parse_header(self.running).file_version

    def boot(self) -> PowerRestored:
        """What the OTA client learns at power-up."""
        record = self.record
        slot = bytes(self.slot[: record.file_offset]) if record is not None else b""
        return PowerRestored(self.running_version, record, slot, image_stamp(self.running))


class FileFlash(MemoryFlash):
    """Flash kept in a directory: `running.ota`, `slot.bin`, `slot.rec` (atomic replace)."""

    def __init__(self, directory: str | os.PathLike[str], running: bytes | None = None) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        running_path = self.dir / "running.ota"
        if running is not None:
            _atomic_write(running_path, running)
        super().__init__(running_path.read_bytes())
        slot_path = self.dir / "slot.bin"
        self.slot = bytearray(slot_path.read_bytes()) if slot_path.exists() else bytearray()
        rec_path = self.dir / "slot.rec"
        self._raw = rec_path.read_bytes() if rec_path.exists() else b""

    def write_slot(self, offset: int, data: bytes) -> None:
        super().write_slot(offset, data)
        path = self.dir / "slot.bin"
        mode = "r+b" if path.exists() else "w+b"
        with path.open(mode) as f:
            f.seek(offset)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def commit_record(self, record: DownloadRecord | None) -> None:
        super().commit_record(record)
        _atomic_write(self.dir / "slot.rec", self.record_bytes)

    def activate(self) -> int:
        version = super().activate()
        _atomic_write(self.dir / "running.ota", self.running)
        _atomic_write(self.dir / "slot.rec", b"")
        (self.dir / "slot.bin").unlink(missing_ok=True)
        return version


def _atomic_write(path: Path, data: bytes) -> None:
    """Write, fsync, rename: readers see the old file or the new one, never a mix."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
