"""No module of geotile takes another module's private (_underscored) name: what a module
shares is public, under a name that says its job (STYLE: small modules with one job)."""
from __future__ import annotations

import ast
from pathlib import Path

import geotile

PACKAGE = Path(geotile.__file__).parent


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def borrowed_private_names(source: str, module: str) -> list[str]:
    """``module.name`` for each private name ``source`` (the code of ``module``) imports
    from another geotile module or reads as an attribute of one."""
    tree = ast.parse(source)
    modules: dict[str, str] = {}  # local name -> geotile module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("geotile"):
                    local = alias.asname or alias.name.split(".")[0]
                    modules[local] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("geotile"):
            for alias in node.names:
                if _private(alias.name) and node.module != module:
                    found.append(f"{node.module}.{alias.name}")
                elif not _private(alias.name):
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            chain, base = [], node.value
            while isinstance(base, ast.Attribute):
                chain.insert(0, base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in modules:
                owner = ".".join([modules[base.id], *chain])
                if owner != module:
                    found.append(f"{owner}.{node.attr}")
    return found


def test_the_check_finds_borrowed_private_names():
    source = ("import geotile.masks\nimport geotile.evaluate as ev\nfrom geotile import labels\n"
              "from geotile.output_files import _held, public\n"
              "from geotile.me import _mine\n"
              "def f(obj):\n"
              "    return geotile.masks._frames, ev._ratios, labels._count, obj._cache,"
              " public._x, ev.__name__\n")
    assert borrowed_private_names(source, "geotile.me") == [
        "geotile.output_files._held", "geotile.masks._frames", "geotile.evaluate._ratios",
        "geotile.labels._count", "geotile.output_files.public._x"]


def test_no_module_borrows_another_modules_private_names():
    """vectorize took _check_not_an_input from vector_output and _name from
    vectorize_inputs, tiling fifteen of tile_checks' and eleven of tile_resume's checks:
    122 private names crossed modules. Each now has a public name in its owner."""
    borrowed = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found = borrowed_private_names(path.read_text(encoding="utf-8"), _module(path))
        if found:
            borrowed[str(path.relative_to(PACKAGE.parent))] = found
    assert borrowed == {}
