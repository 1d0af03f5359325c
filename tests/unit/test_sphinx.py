"""The documentation builds with Sphinx without a warning: the HTML pages and secfilter(1).

``sphinx-build -W`` turns every warning (a broken link between pages, a missing anchor, a page
outside the toctree, a code block that does not lex) into a failure. Skipped only when Sphinx is
not installed (Debian: python3-sphinx and python3-myst-parser, which apache/install-deps.sh
installs; pip: the ``[test]`` extra).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SUBCOMMANDS = ("check", "eval", "log", "serve", "stop", "selftest", "bench")


def sphinx_build(builder: str, out: Path) -> subprocess.CompletedProcess[str]:
    # -E: read every page again; -d: keep the doctrees out of the source tree.
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-E", "-q", "-b", builder,
         "-d", str(out / ".doctrees"), str(DOCS), str(out / builder)],
        capture_output=True, text=True, timeout=600, check=False)


def test_html_builds_without_warnings(tmp_path: Path) -> None:
    result = sphinx_build("html", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    pages = {path.stem for path in (tmp_path / "html").glob("*.html")}
    sources = {path.stem for path in DOCS.glob("*.md")}
    assert sources <= pages


def test_every_page_is_in_the_toctree() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    listed = set(index.split())
    missing = [p.stem for p in DOCS.glob("*.md") if p.stem != "index" and p.stem not in listed]
    assert missing == []


def test_man_page_builds_without_warnings_and_names_every_subcommand(tmp_path: Path) -> None:
    result = sphinx_build("man", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    page = (tmp_path / "man" / "secfilter.1").read_text(encoding="utf-8")
    assert page.count(".TH ") == 1 and '"SECFILTER" "1"' in page
    synopsis = page.split(".SH SYNOPSIS", 1)[1].split(".SH ", 1)[0]
    for command in SUBCOMMANDS:
        assert f"\\fBsecfilter\\fP \\fB{command}\\fP" in synopsis, command


def test_man_page_synopsis_matches_the_command_line() -> None:
    """Every option of every subcommand's --help appears in docs/secfilter.md."""
    from apache_secfilter.cli.main import build_parser

    text = (DOCS / "secfilter.md").read_text(encoding="utf-8")
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert set(subparsers.choices) == set(SUBCOMMANDS)
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert f"**{option}**" in text, f"secfilter {name} {option}"
