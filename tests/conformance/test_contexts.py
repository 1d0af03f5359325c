"""Run the Apache-context cases (tests/conformance/contexts/*.yaml).

Each file holds an Apache configuration tree (``files``, written into a fresh
temporary ServerRoot; ``{tmp}`` stands for it) and ``cases``.  A case names a
request (``url``, optionally ``filename``, ``docroot``, ``address``,
``headers``, ``body``) and what must hold for it:

* ``vhost``: the chosen virtual host's label starts with this (null: none);
* ``sections``: labels (prefixes) of the applied sections that hold Sec* lines,
  in merge order (the server first);
* ``rules``: rule ids (or ``file:line``) in evaluation order;
* ``dropped``: ``{id: removed | not-inherited}``;
* ``settings``: Settings fields and their values; ``mandatory``: ids that are;
* ``verdict``: ``action``/``status`` of the engine on the request;
* ``notes``: texts expected among the inheritance notes.

A case may replace or add files (``files``) and then expect ``config_error``
(``file``, ``line``, ``contains``) instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from apache_secfilter import inspect
from apache_secfilter.apacheconf.explain import explain
from apache_secfilter.apacheconf.source import PolicySource, load_source
from apache_secfilter.cli.show import request_for_url
from apache_secfilter.errors import ConfigError
from apache_secfilter.request.model import Request

CONTEXTS_DIR = Path(__file__).parent / "contexts"


@dataclass(frozen=True)
class ContextCase:
    file: str
    name: str
    files: dict[str, str]
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


def load_context_cases() -> list[ContextCase]:
    cases = []
    for path in sorted(CONTEXTS_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in doc["cases"]:
            files = {**doc.get("files", {}), **item.get("files", {})}
            cases.append(ContextCase(path.stem, item["name"], files, item))
    return cases


CASES = load_context_cases()


def _write_tree(case: ContextCase, tmp: Path) -> Path:
    for name, text in case.files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            path.mkdir(exist_ok=True)
            continue
        path.write_text(text.replace("{tmp}", str(tmp)), encoding="latin-1")
    return tmp / case.data.get("main", "apache2.conf")


def _request(spec: dict[str, Any], tmp: Path) -> Request:
    fill = {k: (v.replace("{tmp}", str(tmp)) if isinstance(v, str) else v)
            for k, v in spec.items()}
    request = request_for_url(fill["url"], fill.get("docroot"), fill.get("filename"),
                              fill.get("method", "GET"))
    headers = request.headers + tuple((k, str(v)) for k, v in
                                      (fill.get("headers") or {}).items())
    facts = replace(request.facts, server_addr=fill.get("address", "127.0.0.1"))
    return replace(request, headers=headers, facts=facts)


def _load(case: ContextCase, tmp: Path) -> PolicySource:
    main = _write_tree(case, tmp)
    defines = case.data.get("defines", [])
    environ = case.data.get("environ", {})
    return load_source(str(main), defines=defines, environ=environ)


def _rule_ref(rule: Any, tmp: Path) -> str:
    if rule.id is not None:
        return rule.id
    return f"{Path(rule.location.path).relative_to(tmp)}:{rule.location.line}"


def _check(source: PolicySource, spec: dict[str, Any], expect: dict[str, Any],
           tmp: Path) -> list[str]:
    request = _request(spec, tmp)
    ex = explain(source, request)
    problems: list[str] = []
    if "vhost" in expect:
        got = ex.vhost
        want = expect["vhost"]
        if (want is None) != (got is None) or (want and not got.startswith(want)):
            problems.append(f"vhost: expected {want!r}, got {got!r}")
    if "sections" in expect:
        got_sections = [label for label, sec in ex.applied if sec]
        want_sections = expect["sections"]
        if len(got_sections) != len(want_sections) or not all(
                g.startswith(w) for g, w in zip(got_sections, want_sections, strict=False)):
            problems.append(f"sections: expected {want_sections!r}, got {got_sections!r}")
    if "rules" in expect:
        got_rules = [_rule_ref(line.rule, tmp) for line in ex.rules]
        if got_rules != [str(r) for r in expect["rules"]]:
            problems.append(f"rules: expected {expect['rules']!r}, got {got_rules!r}")
    problems += _check_details(source, request, ex, expect)
    return problems


def _check_details(source: PolicySource, request: Request, ex: Any,
                   expect: dict[str, Any]) -> list[str]:
    problems = []
    policy = source.policy_for(request)
    if "dropped" in expect:
        got = {unit.rules[0].id: unit.event for unit in ex.dropped}
        want = {str(k): v for k, v in expect["dropped"].items()}
        if got != want:
            problems.append(f"dropped: expected {want!r}, got {got!r}")
    for name, value in (expect.get("settings") or {}).items():
        got_value = getattr(policy.settings, name)
        if got_value != value and not (isinstance(got_value, tuple) and list(got_value) == value):
            problems.append(f"settings.{name}: expected {value!r}, got {got_value!r}")
    for rule_id in expect.get("mandatory", []):
        rule = next((r for r in policy.rules if r.id == str(rule_id)), None)
        if rule is None or not rule.actions.mandatory:
            problems.append(f"rule {rule_id} should be present and mandatory")
    for text in expect.get("notes", []):
        if not any(text in note for note in ex.notes):
            problems.append(f"no note contains {text!r}: {list(ex.notes)!r}")
    if "verdict" in expect:
        verdict = inspect(policy, request).to_json()
        for key, value in expect["verdict"].items():
            if verdict[key] != value:
                problems.append(f"verdict.{key}: expected {value!r}, got {verdict[key]!r}")
    return problems


def _expect_error(case: ContextCase, tmp: Path) -> None:
    expected = _fill(case.data["config_error"], tmp)
    with pytest.raises(ConfigError) as caught:
        _load(case, tmp)
    error = caught.value
    if "line" in expected:
        assert error.location is not None, str(error)
        assert error.location.line == expected["line"], str(error)
    if "file" in expected:
        assert error.location is not None, str(error)
        assert Path(error.location.path) == tmp / expected["file"], str(error)
    for text in _as_list(expected.get("contains")):
        assert text in str(error), str(error)


def _fill(value: Any, tmp: Path) -> Any:
    """``{tmp}`` replaced in every string of a nested structure."""
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp))
    if isinstance(value, list):
        return [_fill(v, tmp) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, tmp) for k, v in value.items()}
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_context_case(case: ContextCase, tmp_path: Path) -> None:
    if "config_error" in case.data:
        _expect_error(case, tmp_path)
        return
    source = _load(case, tmp_path)
    for text in _as_list(case.data.get("warnings")):
        assert any(text in str(w) for w in source.warnings), [str(w) for w in source.warnings]
    problems: list[str] = []
    for index, item in enumerate(case.data.get("requests", [])):
        expect = _fill(item.get("expect", {}), tmp_path)
        found = _check(source, item, expect, tmp_path)
        problems += [f"request {index} ({item['url']}): {p}" for p in found]
    assert not problems, "\n".join(problems)


def test_every_inheritance_directive_is_covered() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in CONTEXTS_DIR.glob("*.yaml"))
    for directive in ("SecFilterInheritance Off", "SecFilterImport", "SecFilterRemove",
                      "mandatory", "SecFilterInheritanceMandatory On",
                      "SecFilterSignatureAction", "<VirtualHost", "ServerAlias"):
        assert directive in text, directive


def test_case_names_are_unique_per_file() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
