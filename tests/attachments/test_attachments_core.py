"""What may be attached: PDFs and images recognised from their bytes, within the size limit, with safe names."""

from __future__ import annotations

import pytest

from lifechain.attachments.core import check, safe_filename, sniff
from lifechain.errors import Invalid

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 16


def test_types_are_read_from_the_bytes() -> None:
    """PDF, JPEG, PNG and WebP are recognised by their magic numbers; anything else is not."""
    assert sniff(PDF) == "application/pdf"
    assert sniff(JPEG) == "image/jpeg"
    assert sniff(PNG) == "image/png"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"<html><script>") is None
    assert sniff(b"WAVE....WEBP") is None  # WEBP needs its RIFF container


def test_a_script_named_ecg_pdf_is_refused() -> None:
    """The client's file name and type are not trusted: HTML called ecg.pdf is refused with a clear message."""
    with pytest.raises(Invalid, match="only PDF, JPEG, PNG"):
        check(data=b"<html>hello</html>", filename="ecg.pdf")


def test_empty_and_oversized_files_are_refused() -> None:
    """An empty file and one over the limit are refused, each saying why."""
    with pytest.raises(Invalid, match="empty"):
        check(data=b"", filename="x.pdf")
    with pytest.raises(Invalid, match="at most 100"):
        check(data=PDF + b"0" * 200, filename="x.pdf", max_bytes=100)


def test_file_names_lose_their_path_and_odd_characters() -> None:
    """A name keeps its letters (Chinese included) but not a path or shell characters."""
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\crew\\心电图 1.pdf") == "心电图 1.pdf"
    assert safe_filename("a<b>|c.pdf") == "a_b__c.pdf"
    assert safe_filename(None) == "attachment"
    assert check(data=PDF, filename="/tmp/ecg.pdf").filename == "ecg.pdf"
