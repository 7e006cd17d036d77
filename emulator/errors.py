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


class ProfileError(HanemuError):
    """A device profile file that cannot be loaded: one line naming the file and the key."""

    def __init__(self, source: str, key: str | None, what: str):
        self.source = source
        self.key = key
        self.what = what
        super().__init__(f"{source}: {what}" if key is None else f"{source}: key {key}: {what}")
