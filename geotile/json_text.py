"""JSON parsed by orjson, 2-3x faster than the standard library on large GeoJSON, with
exactly :func:`json.loads`' results: where orjson would read a document otherwise (integers
beyond 64 bits become floats there) or refuses one that json reads (NaN, 1e400, lone
surrogates), :mod:`json` parses it. Also the label readers' JSON files: sniffed by their
first bytes, then read with one refusal for a file that is not JSON."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

# every digit made "0": a run of 19 zeros is an integer (or fraction) that may pass 64 bits
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def loads(data: str | bytes):
    """``json.loads(data)``, faster on large documents (``data``: text, or UTF-8 bytes
    without a byte-order mark)."""
    try:
        import orjson
    except ImportError:  # installed before orjson was a dependency: json's results, slower
        return json.loads(data)
    try:
        raw = data.encode() if isinstance(data, str) else data
    except UnicodeEncodeError:  # lone surrogates in the text: json's business
        return json.loads(data)
    if _LONG_NUMBER in raw.translate(_DIGITS_AS_ZERO):
        return json.loads(data)  # orjson would turn an integer past 64 bits into a float
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # NaN, 1e400, lone surrogates: json reads them
        return json.loads(data)  # or raises its own error, as before


def null_nan(value):
    """``value`` with every NaN float in it (dicts, lists) replaced by None."""
    if isinstance(value, dict):
        return {k: null_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [null_nan(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def scores_json(scores: dict) -> str:
    """Scores (an ``as_dict()``) as indented JSON, an undefined score (NaN) as null: JSON
    has no NaN, which :func:`json.dumps` writes by default and other readers refuse."""
    return json.dumps(null_nan(scores), indent=2, allow_nan=False)


def decoded(raw: bytes) -> str:
    """JSON bytes as text, in the encoding :func:`json.detect_encoding` reads (UTF-8 with
    or without a byte-order mark, UTF-16/32 as PowerShell's Out-File writes them), the mark
    left out; UnicodeDecodeError for other bytes."""
    return raw.decode(json.detect_encoding(raw)).removeprefix("\ufeff")


def sniffable(head: bytes) -> bytes:
    """The first bytes of a JSON file as UTF-8 bytes, for a quick search of its keys: UTF-16
    or UTF-32 (with or without a byte-order mark) re-encoded, a UTF-8 mark left out; a
    character cut at the end dropped."""
    encoding = json.detect_encoding(head)
    if encoding == "utf-8":
        return head
    if encoding == "utf-8-sig":
        return head[3:]
    return head.decode(encoding, errors="ignore").removeprefix("\ufeff").encode()


def read_json(path: Path, give: str, parse=loads):
    """The document of the JSON file at ``path`` (``parse`` of its :func:`decoded` text);
    InputError in one line, ending with ``give`` (what to give instead), for a file that
    cannot be read, is not JSON or nests too deep to read."""
    from geotile.errors import InputError

    try:
        raw = path.read_bytes()
        return parse(decoded(raw))
    except UnicodeDecodeError as exc:
        if _code_page_text(raw):
            raise not_utf8(path, raw[exc.start], exc.start) from exc
        raise InputError(f"{path}: not a JSON file ({exc}). {give}") from exc
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a JSON file ({first}). {give}") from exc
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deep to read (a broken or hostile file). "
                         f"{give}") from None


def not_utf8(path: Path, byte: int, position: int):
    """The InputError of a text file (JSON, YAML, XML) saved in a Windows code page, not
    UTF-8 (``byte`` at ``position`` is not): how to convert it."""
    from geotile.errors import InputError

    return InputError(
        f"{path}: not UTF-8 (byte 0x{byte:02X} at {position}: saved in a "
        "Windows code page). Convert it to UTF-8 and give that: iconv -f CP1252 -t UTF-8 "
        f"{path.name} > utf8/{path.name} (GBK for Chinese Windows).")


def _code_page_text(raw: bytes) -> bool:
    """Whether ``raw``, not UTF-8, is JSON text in a one-byte code page (cp1252, as Windows
    tools saved it): it begins as a JSON object or array and holds no control bytes."""
    head = raw[:4096].lstrip()
    return head[:1] in (b"{", b"[") and not any(b < 9 or 13 < b < 32 for b in head)


def sniffed(path, pattern: re.Pattern, size: int, suffix: str | None = None) -> bool:
    """Whether ``path`` is a local file (named ``*suffix`` when given) whose first ``size``
    bytes (:func:`sniffable`) match ``pattern``: a key of a document worth parsing to see."""
    path = Path(os.fspath(path)) if isinstance(path, str | os.PathLike) else None
    try:
        if path is None or (suffix is not None and path.suffix.lower() != suffix) \
                or not path.is_file():
            return False
        with path.open("rb") as handle:
            head = handle.read(size)
    except OSError:
        return False
    return pattern.search(sniffable(head)) is not None


def holds(path: Path, is_kind) -> bool:
    """Whether the JSON file at ``path`` parses to a document ``is_kind`` accepts (False
    where it does not parse)."""
    from geotile.errors import InputError

    try:
        return is_kind(read_json(path, ""))
    except InputError:
        return False
