"""Which files may be attached to an incident: kinds, content types recognised from the bytes, size, safe names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from lifechain.errors import Invalid

MAX_BYTES = 10 * 1024 * 1024  # a phone photo of a 12-lead ECG is 1-5 MB; a PDF export is smaller


class AttachmentKind(StrEnum):
    """What an attached file is."""

    PREHOSPITAL_ECG = "prehospital_ecg"
    PHOTO = "photo"
    DOCUMENT = "document"


# Magic numbers of the accepted formats: the type is read from the bytes, never trusted from the client.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF-", 0, "application/pdf"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),
    (b"ftypheic", 4, "image/heic"),
    (b"ftypheix", 4, "image/heic"),
    (b"ftypmif1", 4, "image/heif"),
)


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """An uploaded file that passed the checks: its detected content type, size and a safe file name."""

    content_type: str
    size: int
    filename: str


def sniff(head: bytes) -> str | None:
    """The content type recognised from the first bytes of a file, or None."""
    for magic, offset, content_type in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic and (content_type != "image/webp" or head[:4] == b"RIFF"):
            return content_type
    return None


def safe_filename(name: str | None) -> str:
    """A file name with no path and only harmless characters (kept for display and download)."""
    base = re.split(r"[\\/]", name or "")[-1].strip()
    cleaned = re.sub(r"[^\w.\- ]", "_", base, flags=re.UNICODE)[:120].strip(" .")
    return cleaned or "attachment"


def check(*, data: bytes, filename: str | None, max_bytes: int = MAX_BYTES) -> CheckedFile:
    """Accept a PDF or an image (JPEG, PNG, WebP, HEIC) up to `max_bytes`; raises `Invalid` saying why not."""
    if not data:
        raise Invalid("the file is empty", field="file")
    if len(data) > max_bytes:
        raise Invalid(f"the file is {len(data)} bytes; at most {max_bytes} are accepted", field="file")
    content_type = sniff(data[:16])
    if content_type is None:
        raise Invalid("only PDF, JPEG, PNG, WebP or HEIC files can be attached", field="file")
    return CheckedFile(content_type=content_type, size=len(data), filename=safe_filename(filename))
