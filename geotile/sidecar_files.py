"""Files other tools write beside an ONNX export (Hugging Face's, MMDeploy's, Paddle's): the folder
that holds them for a model, and their JSON, read with one reason when it cannot be."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def sidecar_folder(model_path, names: Sequence[str], above_onnx: bool = False) -> Path:
    """The folder whose files ``names`` go with ``model_path``: its own; for a link
    (models/segformer.onnx -> exports/segformer/model.onnx) without any of them beside it,
    the folder of the file it links to; with ``above_onnx``, for a model in a folder named
    ``onnx`` without them (a Hub repository laid out for transformers.js), the folder above."""
    path = Path(model_path)
    folders = [path.parent, *([path.resolve().parent] if path.is_symlink() else [])]
    if above_onnx:
        folders += [f.parent for f in folders if f.name.lower() == "onnx"]
    for folder in folders:
        if any((folder / name).is_file() for name in names):
            return folder
    return folders[0]


def read_json(path: Path):
    """The JSON in ``path``, None when there is no such file; ValueError (its reason)."""
    from geotile.json_text import decoded

    if not path.is_file():
        return None
    try:
        # with or without a BOM, or UTF-16 (saved by Notepad or PowerShell on Windows)
        return json.loads(decoded(path.read_bytes()))
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from exc
