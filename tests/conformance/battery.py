"""The YAML conformance battery: load case files, run them through the engine.

Format (close to the WAF-testing FTW format): one YAML file per topic with a
``config`` (Sec* directives as a rules file holds them) and ``cases``.  Each
case has a ``request`` (raw text, or ``method``/``uri``/``headers``/``body``
…), optionally a ``response`` and its own ``config``, and an ``expect`` block;
or a ``config_error`` block instead of a request.  ``{tmp}`` in configs and
files stands for a fresh temporary directory; ``files`` creates files there
(``executable: true`` makes them programs).  See tests/conformance/README.md.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from apache_secfilter import Clocks, Request, Response, ServerFacts, Verdict, inspect
from apache_secfilter.adapters.programs import ProgramRunner
from apache_secfilter.policy.load import load_policy
from apache_secfilter.request.wire import parse_raw_request

CASES_DIR = Path(__file__).parent / "cases"
DEFAULT_TIME = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    config: str
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    cases = []
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in doc.get("cases", []):
            config = item.get("config", doc.get("config", ""))
            cases.append(Case(path.stem, item["name"], config, item))
    return cases


def _fill(text: str, tmp: Path) -> str:
    return text.replace("{tmp}", str(tmp))


def fill_all(value: Any, tmp: Path) -> Any:
    """``{tmp}`` replaced in every string of a nested structure."""
    if isinstance(value, str):
        return _fill(value, tmp)
    if isinstance(value, list):
        return [fill_all(v, tmp) for v in value]
    if isinstance(value, dict):
        return {k: fill_all(v, tmp) for k, v in value.items()}
    return value


def write_files(case: Case, tmp: Path) -> Path:
    """Write the case's files and config; return the config path."""
    for name, spec in (case.data.get("files") or {}).items():
        spec = spec if isinstance(spec, dict) else {"content": spec}
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_fill(spec.get("content", ""), tmp), encoding="latin-1")
        if spec.get("executable"):
            path.chmod(0o755)
    config = tmp / "rules.conf"
    config.write_bytes(_fill(case.config, tmp).encode("latin-1"))
    return config


def _headers(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, dict):
        return tuple((k, str(v)) for k, v in value.items())
    return tuple((str(k), str(v)) for k, v in value or ())


def _body_bytes(spec: dict[str, Any]) -> bytes:
    if "body_hex" in spec:
        return bytes.fromhex(spec["body_hex"])
    return str(spec.get("body", "")).encode("latin-1")


def build_request(spec: Any, tmp: Path) -> tuple[Request, bytes]:
    """A request from raw text (CRLF added for bare LF) or structured fields."""
    if isinstance(spec, str):
        raw = re.sub(r"(?<!\r)\n", "\r\n", _fill(spec, tmp)).encode("latin-1")
        return parse_raw_request(raw)
    body = _body_bytes(spec)
    headers = _headers(spec.get("headers", {"Host": "www.example.test"}))
    names = {n.lower() for n, _ in headers}
    if body and "content-length" not in names and "transfer-encoding" not in names:
        headers += (("Content-Length", str(len(body))),)
    facts = ServerFacts(**{k: v for k, v in (spec.get("facts") or {}).items()})
    if "handler" in spec:
        facts = replace(facts, handler=spec["handler"])
    request = Request(spec.get("method", "GET"), _fill(spec.get("uri", "/"), tmp),
                      spec.get("protocol", "HTTP/1.1"), headers,
                      remote_addr=spec.get("remote_addr", "192.0.2.10"),
                      remote_port=int(spec.get("remote_port", 40000)),
                      env=dict(spec.get("env") or {}), facts=facts)
    return request, body


def build_response(spec: dict[str, Any] | None) -> Response | None:
    if spec is None:
        return None
    headers = _headers(spec.get("headers", {"Content-Type": "text/html"}))
    return Response(int(spec.get("status", 200)), headers, _body_bytes(spec))


def run_case(case: Case, tmp: Path) -> Verdict:
    config = write_files(case, tmp)
    policy = load_policy(str(config))
    request, body = build_request(case.data["request"], tmp)
    when = case.data.get("time")
    now = datetime.fromisoformat(when) if when else DEFAULT_TIME
    clock = iter(range(10**9)).__next__ if case.data.get("slow_clock") else _zero_clock
    return inspect(policy, request, body, build_response(case.data.get("response")),
                   services=ProgramRunner(), clocks=Clocks(now, clock))


def _zero_clock() -> float:
    return 0.0


def check_expectations(verdict: Verdict, expect: dict[str, Any]) -> list[str]:
    """Every difference between the verdict and ``expect``, as sentences."""
    problems = []
    got = verdict.to_json()
    for key in ("action", "status", "location", "phase", "relevant", "audit"):
        if key in expect and got[key] != expect[key]:
            problems.append(f"{key}: expected {expect[key]!r}, got {got[key]!r}")
    matches = verdict.matches
    if "matches" in expect and len(matches) != expect["matches"]:
        problems.append(f"matches: expected {expect['matches']}, got {len(matches)}")
    for key, attr in (("match_location", "location"), ("id", "id"), ("msg", "msg"),
                      ("severity", "severity"), ("pattern", "pattern"), ("line", "line")):
        if key in expect:
            values = [getattr(m, attr) for m in matches]
            if expect[key] not in values:
                problems.append(f"{key}: expected {expect[key]!r} among {values!r}")
    for text in _as_list(expect.get("alert_contains")):
        if not any(text in alert for alert in verdict.alerts):
            problems.append(f"no alert contains {text!r}: {list(verdict.alerts)!r}")
    if "alerts" in expect and len(verdict.alerts) != expect["alerts"]:
        problems.append(f"alerts: expected {expect['alerts']}, got {len(verdict.alerts)}")
    for key in ("env", "notes"):
        for name, value in (expect.get(key) or {}).items():
            if got[key].get(name) != value:
                problems.append(f"{key}[{name}]: expected {value!r}, got {got[key].get(name)!r}")
    for key in ("exec", "pause_ms"):
        if key in expect and got[key] != expect[key]:
            problems.append(f"{key}: expected {expect[key]!r}, got {got[key]!r}")
    for name, value in (expect.get("headers") or {}).items():
        if value not in (got["headers"].get(name) or ""):
            problems.append(f"header {name}: expected to contain {value!r}, "
                            f"got {got['headers'].get(name)!r}")
    if "inspected" in expect and verdict.inspected != expect["inspected"]:
        problems.append(f"inspected: expected {expect['inspected']}")
    return problems


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def environment_ok(case: Case) -> str | None:
    """A reason to skip a case on this machine (e.g. needs a program), or None."""
    for program in case.data.get("requires", []):
        if not os.path.exists(program):
            return f"needs {program}"
    return None
