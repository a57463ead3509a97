"""What a failed download leaves in place of an input: an empty file, or a saved web page
(an error or login page). Readers of rasters, vector labels and models name it so, instead
of their own 'not a ... file' message."""

from __future__ import annotations


def failed_download(path, what: str) -> str | None:
    """Why a local file that no reader takes is no ``what`` (a raster, an ONNX model...)
    when it is what a failed download leaves: an empty file, or a saved web page (an error
    or login page); None otherwise."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except (OSError, TypeError):
        return None
    if not head:
        return (f"{path}: the file is empty (0 bytes), not {what}: a download or copy that "
                "failed. Download or copy it again.")
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith((b"<!doctype html", b"<html")):
        return (f"{path}: the file is a web page (HTML), not {what}: the download saved an "
                "error or login page. Check the URL (and any login) and download it again.")
    return None
