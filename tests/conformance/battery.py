"""The YAML conformance battery: load case files, run them through the engine.

Format (close to the WAF-testing FTW format): one YAML file per topic with a
``config`` (Sec* directives as a rules file holds them) and ``cases``.  Each
case has a ``request`` (raw text, or ``method``/``uri``/``headers``/``body``
…), optionally a ``response`` and its own ``config``, and an ``expect`` block;
or a ``config_error`` block instead of a request; or neither (the config is
only loaded, and ``expect`` may check its warnings and rule counts).
``{tmp}`` in configs and files stands for a fresh temporary directory;
``files`` (per file and per case) creates files there (``executable: true`` makes
them programs, ``directory: true`` makes a directory).
A file (or a case) marked ``pending: <reason>`` is expected to fail until the
engine is fixed (strict xfail).  See tests/conformance/README.md.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from apache_secfilter import Clocks, Policy, Request, Response, ServerFacts, Verdict, inspect
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
    pending: str | None = None

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    cases = []
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in doc.get("cases", []):
            config = item.get("config", doc.get("config", ""))
            if doc.get("files"):
                item = {**item, "files": {**doc["files"], **(item.get("files") or {})}}
            pending = item.get("pending", doc.get("pending"))
            cases.append(Case(path.stem, item["name"], config, item,
                              str(pending) if pending else None))
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


def encode_text(text: str) -> bytes:
    """Latin-1 (one byte per character, so ``"\\xe9"`` in YAML is the byte E9);
    text holding characters above U+00FF is written as UTF-8 instead."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def write_files(case: Case, tmp: Path) -> Path:
    """Write the case's files and config; return the config path."""
    for name, spec in (case.data.get("files") or {}).items():
        spec = spec if isinstance(spec, dict) else {"content": spec}
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if spec.get("directory"):
            path.mkdir(exist_ok=True)
            continue
        path.write_bytes(encode_text(_fill(spec.get("content", ""), tmp)))
        if spec.get("executable"):
            path.chmod(0o755)
    config = tmp / "rules.conf"
    config.write_bytes(encode_text(_fill(case.config, tmp)))
    return config


def _headers(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, dict):
        return tuple((k, str(v)) for k, v in value.items())
    return tuple((str(k), str(v)) for k, v in value or ())


def _repeat(spec: dict[str, Any], key: str) -> str:
    """``[text, n]`` under ``key``: text repeated n times (long bodies and query strings)."""
    if key not in spec:
        return ""
    text, times = spec[key]
    return str(text) * int(times)


def _body_bytes(spec: dict[str, Any]) -> bytes:
    if "body_hex" in spec:
        return bytes.fromhex(spec["body_hex"])
    return encode_text(str(spec.get("body", "")) + _repeat(spec, "body_repeat"))


def _raw(text: str, tmp: Path) -> tuple[Request, bytes]:
    raw = re.sub(r"(?<!\r)\n", "\r\n", _fill(text, tmp))
    return parse_raw_request(encode_text(raw))


def build_request(spec: Any, tmp: Path) -> tuple[Request, bytes]:
    """A request from raw text (CRLF added for bare LF) or structured fields.

    A mapping with ``raw`` is raw text plus overrides (``env``, ``facts``,
    ``handler``, ``remote_addr``) that a raw request cannot carry.
    """
    if isinstance(spec, str):
        return _raw(spec, tmp)
    if "raw" in spec:
        request, body = _raw(spec["raw"], tmp)
        facts = replace(request.facts, **(spec.get("facts") or {}))
        if "handler" in spec:
            facts = replace(facts, handler=spec["handler"])
        request = replace(request, facts=facts, env=dict(spec.get("env") or {}),
                          remote_addr=spec.get("remote_addr", request.remote_addr))
        return request, body
    body = _body_bytes(spec)
    headers = _headers(spec.get("headers", {"Host": "www.example.test"}))
    names = {n.lower() for n, _ in headers}
    if body and "content-length" not in names and "transfer-encoding" not in names:
        headers += (("Content-Length", str(len(body))),)
    facts = ServerFacts(**{k: v for k, v in (spec.get("facts") or {}).items()})
    if "handler" in spec:
        facts = replace(facts, handler=spec["handler"])
    uri = _fill(spec.get("uri", "/"), tmp) + _repeat(spec, "uri_repeat")
    request = Request(spec.get("method", "GET"), uri,
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


def load_case_policy(case: Case, tmp: Path) -> Policy:
    return load_policy(str(write_files(case, tmp)))


def run_policy(case: Case, policy: Policy, tmp: Path, fast: bool | None = None) -> Verdict:
    """The case's verdict; ``fast`` chooses the rule loop (None: the engine's default)."""
    request, body = build_request(case.data["request"], tmp)
    when = case.data.get("time")
    now = datetime.fromisoformat(when) if when else DEFAULT_TIME
    slow = bool(case.data.get("slow_clock"))
    clock = iter(range(10**9)).__next__ if slow else _zero_clock
    # A slow clock counts clock reads, one per value the plain loop tests; the fast
    # path does not search values that cannot match, so these run on the plain loop.
    return inspect(policy, request, body, build_response(case.data.get("response")),
                   services=ProgramRunner(), clocks=Clocks(now, clock),
                   fast=False if slow else fast)


def final_status(case: Case, verdict: Verdict) -> int | None:
    """The status the client gets: the verdict's when it blocks, else the response's."""
    if verdict.blocks or "response" not in case.data:
        return verdict.status
    return int((case.data.get("response") or {}).get("status", 200))


def audit_decision(case: Case, policy: Policy, verdict: Verdict, tmp: Path) -> bool:
    """Whether the transaction goes to the audit log (logs.decide, spec §3.2 SecAuditEngine)."""
    from apache_secfilter.logs.decide import should_audit
    request, _ = build_request(case.data["request"], tmp)
    return should_audit(policy.settings, verdict, final_status(case, verdict),
                        request.facts.is_dynamic)


def run_case(case: Case, tmp: Path) -> Verdict:
    return run_policy(case, load_case_policy(case, tmp), tmp)


def _zero_clock() -> float:
    return 0.0


def check_expectations(verdict: Verdict, expect: dict[str, Any],
                       policy: Policy | None = None, tmp: Path | None = None) -> list[str]:
    """Every difference between the verdict and ``expect``, as sentences."""
    problems = []
    got = verdict.to_json()
    for key in ("action", "status", "location", "phase", "relevant", "audit"):
        if key in expect and got[key] != expect[key]:
            problems.append(f"{key}: expected {expect[key]!r}, got {got[key]!r}")
    problems += _check_matches(verdict, expect)
    problems += _check_alerts(verdict, expect)
    for key in ("env", "notes"):
        for name, value in (expect.get(key) or {}).items():
            if got[key].get(name) != value:
                problems.append(f"{key}[{name}]: expected {value!r}, got {got[key].get(name)!r}")
    for name in _as_list(expect.get("env_absent")):
        if name in got["env"]:
            problems.append(f"env[{name}]: expected absent, got {got['env'][name]!r}")
    for key in ("exec", "pause_ms"):
        if key in expect and got[key] != expect[key]:
            problems.append(f"{key}: expected {expect[key]!r}, got {got[key]!r}")
    if "logparts" in expect and verdict.logparts != expect["logparts"]:
        problems.append(f"logparts: expected {expect['logparts']!r}, got {verdict.logparts!r}")
    for name, value in (expect.get("headers") or {}).items():
        if value not in (got["headers"].get(name) or ""):
            problems.append(f"header {name}: expected to contain {value!r}, "
                            f"got {got['headers'].get(name)!r}")
    for name, value in (expect.get("headers_exact") or {}).items():
        if got["headers"].get(name) != value:
            problems.append(f"header {name}: expected {value!r}, "
                            f"got {got['headers'].get(name)!r}")
    for name in _as_list(expect.get("headers_absent")):
        if name in got["headers"]:
            problems.append(f"header {name}: expected absent, got {got['headers'][name]!r}")
    debug = [text for _level, text in getattr(verdict, "debug", ())]
    for text in _as_list(expect.get("debug_contains")):
        if not any(text in line for line in debug):
            problems.append(f"no debug-log message contains {text!r}: {debug!r}")
    if expect.get("debug_empty") and debug:
        problems.append(f"debug log: expected nothing, got {debug!r}")
    if "inspected" in expect and verdict.inspected != expect["inspected"]:
        problems.append(f"inspected: expected {expect['inspected']}")
    if "error_contains" in expect and expect["error_contains"] not in (verdict.error or ""):
        problems.append(f"error: expected to contain {expect['error_contains']!r}, "
                        f"got {verdict.error!r}")
    if expect.get("no_error") and verdict.error is not None:
        problems.append(f"error: expected none, got {verdict.error!r}")
    if policy is not None:
        problems += check_policy(policy, expect)
    if tmp is not None:
        problems += _check_tmp_files(expect, tmp)
    return problems


def _check_matches(verdict: Verdict, expect: dict[str, Any]) -> list[str]:
    problems = []
    matches = verdict.matches
    if "matches" in expect and len(matches) != expect["matches"]:
        problems.append(f"matches: expected {expect['matches']}, got {len(matches)}")
    for key, attr in (("match_location", "location"), ("id", "id"), ("msg", "msg"),
                      ("severity", "severity"), ("pattern", "pattern"), ("line", "line"),
                      ("rev", "rev")):
        if key in expect:
            values = [getattr(m, attr) for m in matches]
            if expect[key] not in values:
                problems.append(f"{key}: expected {expect[key]!r} among {values!r}")
    if "all_matches" in expect:
        wanted = expect["all_matches"]
        if len(wanted) != len(matches):
            problems.append(f"all_matches: expected {len(wanted)} matches, got "
                            f"{[(m.line, m.location) for m in matches]!r}")
        for index, (want, match) in enumerate(zip(wanted, matches, strict=False)):
            for key, value in want.items():
                attr = "location" if key == "match_location" else key
                if getattr(match, attr) != value:
                    problems.append(f"match {index} {key}: expected {value!r}, "
                                    f"got {getattr(match, attr)!r}")
    return problems


def _check_alerts(verdict: Verdict, expect: dict[str, Any]) -> list[str]:
    problems = []
    alerts = list(verdict.alerts)
    for text in _as_list(expect.get("alert_contains")):
        if not any(text in alert for alert in alerts):
            problems.append(f"no alert contains {text!r}: {alerts!r}")
    for text in _as_list(expect.get("not_alert_contains")):
        if any(text in alert for alert in alerts):
            problems.append(f"an alert contains {text!r}: {alerts!r}")
    if "alerts" in expect and len(alerts) != expect["alerts"]:
        problems.append(f"alerts: expected {expect['alerts']}, got {len(alerts)}: {alerts!r}")
    if "alerts_exact" in expect and alerts != list(expect["alerts_exact"]):
        problems.append(f"alerts_exact: expected {expect['alerts_exact']!r}, got {alerts!r}")
    if expect.get("alerts_printable"):
        texts = alerts + [v for v in verdict.to_json()["headers"].values()]
        for text in texts:
            if any(ord(c) < 0x20 or ord(c) >= 0x7F for c in text):
                problems.append(f"control or non-ASCII character in alert/header: {text!r}")
    return problems


def check_policy(policy: Policy, expect: dict[str, Any]) -> list[str]:
    """Expectations about the loaded configuration: warnings and rule counts."""
    problems = []
    warnings = [str(w) for w in policy.warnings]
    for text in _as_list(expect.get("warnings")):
        if not any(text in w for w in warnings):
            problems.append(f"no warning contains {text!r}: {warnings!r}")
    if expect.get("no_warnings") and warnings:
        problems.append(f"expected no warnings, got {warnings!r}")
    if "rule_count" in expect and len(policy.rules) != expect["rule_count"]:
        problems.append(f"rule_count: expected {expect['rule_count']}, got {len(policy.rules)}")
    if "output_rule_count" in expect and len(policy.output_rules) != expect["output_rule_count"]:
        problems.append(f"output_rule_count: expected {expect['output_rule_count']}, "
                        f"got {len(policy.output_rules)}")
    return problems


def _check_tmp_files(expect: dict[str, Any], tmp: Path) -> list[str]:
    problems = []
    for pattern, count in (expect.get("tmp_files") or {}).items():
        found = sorted(str(p.relative_to(tmp)) for p in tmp.glob(pattern))
        if len(found) != count:
            problems.append(f"tmp_files {pattern}: expected {count}, got {found!r}")
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
