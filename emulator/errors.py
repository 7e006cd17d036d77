"""The project's one exception hierarchy.

Every parser and checker raises a subclass of `HanemuError` that says what was wrong and where
(field and byte offset). The CLI catches `HanemuError` once and prints one line; anything else
reaching a user is a bug. This module must never import anything from the rest of the project.
"""

from __future__ import annotations


class HanemuError(Exception):
    """Base of every error hanemu raises on purpose."""


class FormatError(HanemuError):
    """Malformed bytes: `what` went wrong in `field` at byte `offset` of the input."""

    def __init__(self, what: str, *, field: str | None = None, offset: int | None = None):
        self.what = what
        self.field = field
        self.offset = offset
        where = []
        if field is not None:
            where.append(f"field {field}")
        if offset is not None:
            where.append(f"offset {offset}")
        super().__init__(f"{what} ({' at '.join(where)})" if where else what)


class ImageFormatError(FormatError):
    """An OTA upgrade file that cannot be parsed, or (in strict mode) is inconsistent."""


class ImageBuildError(HanemuError):
    """Fields that cannot be put together into a valid OTA upgrade file."""


class KeyMaterialError(HanemuError):
    """A key or certificate that cannot be loaded or does not fit its use."""


class FrameError(FormatError):
    """A ZCL frame that cannot be decoded: too short, unknown command, bad field.

    `header` is the frame's ZCL header when that much parsed, and `status` the ZCL status a
    receiver answers with in its Default Response (e.g. MALFORMED_COMMAND)."""

    def __init__(
        self,
        what: str,
        *,
        field: str | None = None,
        offset: int | None = None,
        header: object = None,
        status: int | None = None,
    ):
        super().__init__(what, field=field, offset=offset)
        self.header = header
        self.status = status


class PolicyError(HanemuError):
    """A policy or configuration value outside what the OTA client or server accepts."""


class GbcsFormatError(FormatError):
    """A GBCS message (grouping header, DER payload, signature or MAC framing) that cannot be
    parsed or built."""


class ConfigError(HanemuError):
    """A configuration file (a device profile, a home) that cannot be used: one line naming the
    file and, when one is to blame, the dotted key (`zigbee.endpoints[0].id`)."""

    def __init__(self, source: str, key: str | None, what: str):
        self.source = source
        self.key = key
        self.what = what
        super().__init__(f"{source}: {what}" if key is None else f"{source}: key {key}: {what}")

    def __reduce__(self):  # rebuilt from its parts (e.g. sent back from a worker process)
        return type(self), (self.source, self.key, self.what)


ProfileError = ConfigError
"""A device profile file that cannot be loaded (the same class as every config-file error)."""
HomeFileError = ConfigError
"""A home file that cannot be used (the same class as every config-file error)."""


class CampaignError(HanemuError):
    """A campaign or activation plan that cannot be carried out (bad mode, unknown party, ...)."""


class ScenarioError(HanemuError):
    """A scenario that cannot be run as asked (an air that cannot carry it, a device a campaign
    cannot reach, ...)."""


class CaptureError(HanemuError):
    """A live capture that cannot be set up: a `--zep` address that does not parse or resolve."""


class ManifestError(FormatError):
    """A Wi-Fi update manifest that cannot be decoded: too large, not UTF-8 JSON, or a field
    missing, unknown, of the wrong type or out of range (`field` names it)."""


class WifiError(HanemuError):
    """A Wi-Fi update server that cannot be used as asked (`hanemu home trigger`): a URL that
    is not one, a server that cannot be reached, a device it does not know."""


class TransitionError(AssertionError):
    """The OTA client broke its own transition table: a handler left the client in a state its
    row does not allow, or a (state, trigger) pair is in neither TRANSITIONS nor IGNORED. A bug
    in the client, never bad input, so not a `HanemuError`."""


class FileError(HanemuError):
    """A file that cannot be used: `path` as shown to the user, `what` is wrong with it, `errno`
    the system's error number when the system refused."""

    def __init__(self, path: str, what: str, errno: int | None = None):
        self.path = path
        self.what = what
        self.errno = errno
        super().__init__(f"{path}: {what}")

    def __reduce__(self):  # rebuilt from its parts (e.g. sent back from a worker process)
        return type(self), (self.path, self.what, self.errno)


class InputError(FileError):
    """A file a user named that cannot be read: missing, unreadable, not a regular file (a
    directory, FIFO, device or socket) or larger than the input limit."""


class OutputError(FileError):
    """A file hanemu was asked to write (a report, a pcap) that cannot be written whole: a
    directory, a device, a directory that cannot be written, the same file as another output or
    an input, or a write the system refused."""


_SIGNAL_WORDS = {2: "interrupted", 15: "terminated"}


class Interrupted(BaseException):
    """A command stopped by a signal (SIGINT, SIGTERM): its exit status is 128 + the signal's
    number (130, 143), as a shell reports a command the signal ended. Not an error, and like
    KeyboardInterrupt not an `Exception`, so no `except Exception` on its way (a library's, the
    enum machinery's while a module loads) turns it into something else."""

    def __init__(self, signum: int):
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(_SIGNAL_WORDS.get(signum, f"stopped by signal {signum}"))

    def __reduce__(self):
        return type(self), (self.signum,)
