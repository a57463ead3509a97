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


def remote_failure(path, reason: str) -> str | None:
    """Why GDAL could not read the remote ``path`` (a URL, /vsicurl/, s3://, /vsis3/...;
    the caller says it is one) from its error ``reason``, with the fix: the server, the
    network or the credentials failed, not the file's format; None when ``reason`` is no
    such failure."""
    import re

    if "AWS_NO_SIGN_REQUEST" in reason or "AWS credentials" in reason:
        return (f"{path}: no AWS credentials to read it. For a public bucket set "
                "AWS_NO_SIGN_REQUEST=YES; otherwise set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, ~/.aws/credentials).")
    if "Range downloading not supported" in reason:
        return (f"{path}: the server does not support range requests, which GDAL needs to "
                "read it in place. Download the file and give the local copy.")
    code = re.search(r"HTTP (?:response )?(?:code|error)[: ]*(\d{3})", reason)
    if code and code[1] == "404":
        return f"{path}: not found on the server (HTTP 404). Check the URL."
    if code and code[1] in ("401", "403"):
        return (f"{path}: access denied by the server (HTTP {code[1]}). Check the URL (a "
                "signed URL may have expired) and the credentials; for a public S3 bucket "
                "set AWS_NO_SIGN_REQUEST=YES.")
    if code:
        return (f"{path}: the server answered HTTP {code[1]}. Check the URL, or try again "
                "later.")
    if re.search(r"CURL error|timed out|Timeout", reason, re.IGNORECASE):
        first = reason.split(";")[0].strip()
        return (f"{path}: could not be downloaded ({first}). Check the URL and the network "
                "and try again, or download it first (curl -O, or gdal vsi copy) and give "
                "the local file; GDAL_HTTP_LOW_SPEED_TIME and GDAL_HTTP_TIMEOUT set how "
                "long to wait.")
    return None


def raise_remote_failure(path, exc: Exception) -> None:
    """InputError (:func:`remote_failure`) when reading the remote ``path`` failed for the
    server or the network: a probe that takes any failure for 'not that kind of file'
    must not ask a stalled server again."""
    from geotile.errors import InputError
    from geotile.gdal_settings import is_remote

    if is_remote(path) and (why := remote_failure(path, str(exc))):
        raise InputError(why) from exc
