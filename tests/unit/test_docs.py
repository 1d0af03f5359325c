"""The user documentation covers what the code implements.

Every directive of the DIRECTIVES table, every registered variable, every action, every limit
and every decision id has its place in ``docs/``; extensions are marked as ours; the test files
that ``docs/decisions.md`` cites exist; links between these pages lead to real headings.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

import apache_secfilter.request.variables  # noqa: F401  (registers every variable family)
from apache_secfilter.language.actionlist import KNOWN_ACTIONS
from apache_secfilter.language.directives import DIRECTIVES
from apache_secfilter.limits import DEFAULT_LIMITS, Limits
from apache_secfilter.policy.actions import ACTIONS
from apache_secfilter.request.variables.registry import FAMILIES, PREFIXES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: The pages this test keeps honest (other pages in docs/ have tests of their own).
PAGES = ("language.md", "directives.md", "variables.md", "actions.md", "decisions.md",
         "architecture.md", "limits.md")
DECISION_IDS = ([f"L{n}" for n in range(1, 22)] + [f"R{n}" for n in range(1, 9)]
                + [f"G{n}" for n in range(1, 10)])

_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def read(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def prose_lines(text: str) -> list[str]:
    """The lines of a page outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def headings(text: str) -> list[tuple[int, str]]:
    """(level, text) of every heading outside code blocks."""
    found = []
    for line in prose_lines(text):
        match = _HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2)))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a page offers, duplicates numbered as GitHub numbers them."""
    seen: dict[str, int] = {}
    out = set()
    for _, title in headings(text):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def section(text: str, title_pattern: str) -> str:
    """The text of the section whose heading matches, up to the next heading of its level."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _HEADING.match(line)
        if match and re.fullmatch(title_pattern, match.group(2)):
            level = len(match.group(1))
            body = []
            for following in lines[index + 1:]:
                nxt = _HEADING.match(following)
                if nxt and len(nxt.group(1)) <= level:
                    break
                body.append(following)
            return "\n".join(body)
    raise AssertionError(f"no heading matching {title_pattern!r}")


def heading_titles(page: str) -> set[str]:
    return {title.strip("`") for _, title in headings(read(page))}


# --------------------------------------------------------------------------- directives


@pytest.mark.parametrize("name", sorted(spec.name for spec in DIRECTIVES.values()))
def test_every_directive_has_a_section(name: str) -> None:
    assert name in heading_titles("directives.md"), f"docs/directives.md: no section for {name}"


@pytest.mark.parametrize("name", sorted(spec.name for spec in DIRECTIVES.values()))
def test_every_directive_is_in_the_summary(name: str) -> None:
    link = f"[{name}](#{slug(name)})"
    assert link in section(read("directives.md"), "Summary"), (
        f"docs/directives.md: {name} missing from the summary table")


@pytest.mark.parametrize("name", sorted(s.name for s in DIRECTIVES.values() if s.extension))
def test_extensions_are_marked_as_ours(name: str) -> None:
    text = section(read("directives.md"), re.escape(name))
    assert "**Extension**" in text, f"docs/directives.md: {name} is not marked as an extension"
    assert name in read("decisions.md"), f"docs/decisions.md: extension {name} not listed"


@pytest.mark.parametrize("name", sorted(s.name for s in DIRECTIVES.values()
                                        if s.kind == "unsupported"))
def test_refused_directives_say_so(name: str) -> None:
    text = section(read("directives.md"), re.escape(name))
    assert "Refused" in text, f"docs/directives.md: {name} is refused but the docs do not say so"


# --------------------------------------------------------------------------- variables


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_variable_is_documented(name: str) -> None:
    assert f"`{name}`" in read("variables.md"), f"docs/variables.md: no entry for {name}"


@pytest.mark.parametrize("prefix", sorted(PREFIXES))
def test_every_prefix_variable_is_documented(prefix: str) -> None:
    pattern = re.compile("`" + re.escape(prefix) + r"[a-z][a-z_]*`")
    assert pattern.search(read("variables.md")), (
        f"docs/variables.md: no entry for {prefix}name")


# --------------------------------------------------------------------------- actions


@pytest.mark.parametrize("name", sorted(set(ACTIONS) | KNOWN_ACTIONS))
def test_every_action_has_a_section(name: str) -> None:
    assert name in heading_titles("actions.md"), f"docs/actions.md: no section for {name}"


# --------------------------------------------------------------------------- decisions


def _decision_rows() -> dict[str, list[str]]:
    rows = {}
    for line in prose_lines(read("decisions.md")):
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells and re.fullmatch(r"[LRG]\d+", cells[0]):
            rows[cells[0]] = cells
    return rows


@pytest.mark.parametrize("decision", DECISION_IDS)
def test_every_decision_has_a_row(decision: str) -> None:
    row = _decision_rows().get(decision)
    assert row is not None, f"docs/decisions.md: no row for {decision}"
    assert len(row) == 5, f"docs/decisions.md: row {decision} should have 5 cells"
    _, topic, what, explained, tested = row
    assert topic and what and tested, f"docs/decisions.md: row {decision} has an empty cell"
    assert _LINK.search(explained), f"docs/decisions.md: row {decision} links to no section"


@pytest.mark.parametrize("decision", DECISION_IDS)
def test_cited_test_files_exist(decision: str) -> None:
    tested = _decision_rows()[decision][4]
    for path in re.findall(r"`(tests/[^`\s]+)`", tested):
        assert (ROOT / path).exists(), f"docs/decisions.md: {decision} cites missing {path}"


# --------------------------------------------------------------------------- limits


def _shown(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@pytest.mark.parametrize("name", [f.name for f in fields(Limits)])
def test_every_limit_is_documented_with_its_default(name: str) -> None:
    text = read("limits.md")
    assert name in heading_titles("limits.md"), f"docs/limits.md: no section for {name}"
    rows = [line for line in prose_lines(text) if line.startswith(f"| [`{name}`]")]
    assert rows, f"docs/limits.md: {name} missing from the table"
    default = _shown(getattr(DEFAULT_LIMITS, name))
    assert re.search(rf"\|\s*{re.escape(default)}\b", rows[0]), (
        f"docs/limits.md: the table does not give {name}'s default {default}")


# --------------------------------------------------------------------------- links


def _links() -> list[tuple[str, str]]:
    return [(page, target) for page in PAGES
            for line in prose_lines(read(page)) for target in _LINK.findall(line)
            if "://" not in target]


@pytest.mark.parametrize("page,target", _links())
def test_links_lead_to_headings(page: str, target: str) -> None:
    file, _, anchor = target.partition("#")
    path = DOCS / (file or page)
    if file not in PAGES and file != "" and not path.exists():
        pytest.skip(f"{file} is another page, not present")
    assert path.exists(), f"docs/{page}: link to missing {file}"
    if anchor:
        assert anchor in anchors(path.read_text(encoding="utf-8")), (
            f"docs/{page}: link {target} leads to no heading")
