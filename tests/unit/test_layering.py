"""Imports point down only: each layer imports only the layers below it.

Layer 0: errors, limits, escape, version.  1: language, request.  2: policy.
3: engine, apacheconf (Apache files -> compiled policies).  4: logs.
5: adapters, cli (top).  The core never imports Apache, programs or sockets.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "apache_secfilter"
LAYER = {"errors": 0, "limits": 0, "escape": 0, "version": 0, "language": 1, "request": 1,
         "apacheconf": 3, "policy": 2, "engine": 3, "logs": 4, "adapters": 5, "server": 5, "cli": 6,
         "__init__": 6, "data": 0}
CORE = {"language", "request", "policy", "engine"}
FORBIDDEN_IN_CORE = {"mod_python", "mod_wsgi", "apache", "subprocess", "socket"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _top(path: Path) -> str:
    rel = path.relative_to(PACKAGE).parts
    return rel[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    depth_pkg = len(path.relative_to(PACKAGE).parts) - 1
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                up = node.level - 1
                parts = list(path.relative_to(PACKAGE).parts[:depth_pkg])
                base = parts[:len(parts) - up] if up else parts
                target = ".".join(base + ([node.module] if node.module else []))
                found.append((target.split(".")[0] if target else "__init__", node.lineno))
            elif node.module:
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    me = _top(path)
    for target, line in _imports(path):
        top = target.split(".")[0]
        if top == "apache_secfilter":
            top = target.split(".")[1] if "." in target else "__init__"
        if top in LAYER and top != me and me in LAYER:
            same_top_layer = LAYER[top] == LAYER[me] and me in ("adapters", "server", "cli")
            assert LAYER[top] < LAYER[me] or same_top_layer, (
                f"{path.name}:{line} ({me}, layer {LAYER[me]}) imports {top} "
                f"(layer {LAYER[top]})")
        if me in CORE:
            assert top not in FORBIDDEN_IN_CORE, f"{path.name}:{line} imports {top}"
