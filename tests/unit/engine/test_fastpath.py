"""The fast path gives the plain loop's verdicts: the battery, generated rule sets, corners.

The plain loop (engine.evaluate) is the reference; the prefiltered loop
(engine.fastpath) must agree with it on everything a verdict holds: action,
status, every match with its location, every alert, environment, notes.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apache_secfilter import Clocks, Policy, Request, Verdict, inspect, load_policy
from apache_secfilter.engine import transaction
from apache_secfilter.engine.prefilter import plan_for
from tests.conformance.battery import (
    CASES_DIR,
    Case,
    environment_ok,
    load_case_policy,
    load_cases,
    run_policy,
)

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


#: The random part of a request body file's name (request/bodies/spool.py).
BODY_FILE = re.compile(r"(?<=request_body-)[0-9A-Za-z]{6}")


def comparable(verdict: Verdict) -> str:
    """Everything in a verdict but the traceback text of an internal error and the
    random names of body files, as one text."""
    data = asdict(verdict)
    data.pop("error_detail")
    return BODY_FILE.sub("XXXXXX", json.dumps(data, sort_keys=True, default=str))


def both(policy: Policy, request: Request, body: bytes = b"") -> tuple[dict, dict]:
    """The verdict of each loop, as ``to_json()`` gives it (checked otherwise equal)."""
    clocks = Clocks(NOW, lambda: 0.0)
    fast = inspect(policy, request, body, clocks=clocks, fast=True)
    plain = inspect(policy, request, body, clocks=clocks, fast=False)
    assert comparable(fast) == comparable(plain)
    return fast.to_json(), plain.to_json()


def load_text(text: str) -> Policy:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.conf"
        path.write_text(text, encoding="latin-1")
        return load_policy(str(path))


# -- the battery --------------------------------------------------------------------------

REQUEST_CASES = [c for c in load_cases(CASES_DIR)
                 if "request" in c.data and not c.data.get("slow_clock")]


@pytest.mark.parametrize("case", REQUEST_CASES, ids=[c.id for c in REQUEST_CASES])
def test_battery_cases_get_the_same_verdict(case: Case, tmp_path: Path) -> None:
    if environment_ok(case):
        pytest.skip(environment_ok(case))
    policy = load_case_policy(case, tmp_path)
    fast = run_policy(case, policy, tmp_path, fast=True)
    plain = run_policy(case, policy, tmp_path, fast=False)
    assert comparable(fast) == comparable(plain)


# -- generated rule sets and requests ---------------------------------------------------------

WORDS = ["select", "union", "etc/passwd", "ab", "x", "<script", "id", "sid", "q", "/", "%",
         "\u017felect", "K", "\xe0b", "..", "1", "\x00"]
PATTERNS = ["select", "union\\s+select", "/etc/passwd", "ab", "^x", "x$", "<script", "[0-9]+",
            "(?:ab|x)y?", "[[:digit:]]", "\\x61b", "a.b", "!ab", "!^$", "s[e]l", "(ab)\\1",
            "", "1|2", "\\.\\./", "id=\\d", "[ks]", "\\u212a", "\\u017felect", "\xe0",
            "colou?r", "[^/]", "sel{1,2}ect", "\\x00", "b\\x00", "\\x00s"]
VARIABLES = ["ARGS", "ARGS_NAMES", "ARGS_VALUES", "ARG_q", "ARG_id|!ARG_q", "ARGS|!ARG_id",
             "HEADERS", "HEADERS_VALUES", "HTTP_User-Agent", "HTTP_X-Missing", "REQUEST_URI",
             "QUERY_STRING", "THE_REQUEST", "COOKIES", "COOKIE_sid", "COOKIES_VALUES",
             "POST_PAYLOAD", "REQUEST_METHOD", "ARGS_COUNT", "HEADERS|!HTTP_Cookie",
             "REQUEST_URI|ARGS|HEADERS_VALUES"]
ACTIONS = ["pass", "pass,log", "deny,status:403", "deny,status:404", "allow", "chain", "chain",
           "skipnext:1", "skipnext:2,pass", "pass,setenv:hit=1", "redirect:http://x.test/",
           "nolog,pass", "deny,nolog"]


@st.composite
def rule_sets(draw: st.DrawFn) -> str:
    lines = ["SecFilterEngine On", "SecFilterScanPOST On",
             'SecFilterDefaultAction "' + draw(st.sampled_from(["pass,log", "deny,log"])) + '"',
             f"SecFilterDebugLevel {draw(st.sampled_from([0, 0, 1, 2]))}"]
    count = draw(st.integers(1, 12))
    for number in range(count):
        pattern = draw(st.sampled_from(PATTERNS)).replace('"', '\\"')
        actions = draw(st.sampled_from(ACTIONS))
        if number == count - 1 and actions == "chain":
            actions = "pass"
        actions = f"id:{number + 1},{actions}"
        if draw(st.integers(0, 4)) == 0:
            lines.append(f'SecFilter "{pattern}" "{actions}"')
        else:
            variables = draw(st.sampled_from(VARIABLES))
            lines.append(f'SecFilterSelective "{variables}" "{pattern}" "{actions}"')
    return "\n".join(lines) + "\n"


TEXT = st.lists(st.sampled_from(WORDS), max_size=4).map("".join)


@st.composite
def requests(draw: st.DrawFn) -> tuple[Request, bytes]:
    params = draw(st.lists(st.tuples(st.sampled_from(["q", "id", "a", "ab"]), TEXT),
                           max_size=3))
    query = "&".join(f"{name}={value}" for name, value in params)
    path = "/" + draw(TEXT)
    uri = path + ("?" + query if query else "")
    headers = [("Host", "www.example.test"), ("User-Agent", draw(TEXT) or "agent")]
    if draw(st.booleans()):
        headers.append(("Cookie", f"sid={draw(TEXT)}; theme=x"))
    body = b""
    method = draw(st.sampled_from(["GET", "POST"]))
    if method == "POST":
        body = f"q={draw(TEXT)}&b={draw(TEXT)}".encode("latin-1", "replace")
        headers += [("Content-Type", "application/x-www-form-urlencoded"),
                    ("Content-Length", str(len(body)))]
    return Request(method, uri, "HTTP/1.1", tuple(headers), "192.0.2.1", 4000), body


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(rule_sets(), st.lists(requests(), min_size=1, max_size=3))
def test_generated_rule_sets_get_the_same_verdict(text: str,
                                                 cases: list[tuple[Request, bytes]]) -> None:
    policy = load_text(text)
    for request, body in cases:
        fast, plain = both(policy, request, body)
        assert fast == plain, text


# -- corners --------------------------------------------------------------------------------

def get(uri: str, *headers: tuple[str, str]) -> Request:
    return Request("GET", uri, "HTTP/1.1", (("Host", "h.test"),) + headers, "192.0.2.1", 4000)


def test_skipnext_landing_in_a_chain_whose_head_cannot_match() -> None:
    policy = load_text("""SecFilterEngine On
SecFilterSelective ARG_a "go" "pass,skipnext:1,id:1"
SecFilterSelective ARG_a "never" "chain,id:2"
SecFilterSelective ARG_a "go" "deny,status:403,id:3"
""")
    fast, plain = both(policy, get("/?a=go"))
    assert fast == plain and plain["status"] == 403


def test_a_dead_head_fails_its_chain() -> None:
    policy = load_text("""SecFilterEngine On
SecFilterSelective ARG_a "never" "chain,id:1"
SecFilterSelective ARG_a "go" "deny,status:403,id:2"
SecFilterSelective ARG_a "go" "pass,setenv:after=1,id:3"
""")
    fast, plain = both(policy, get("/?a=go"))
    assert fast == plain and plain["action"] == "pass" and plain["env"] == {"after": "1"}


def test_the_first_target_that_fires_is_the_location() -> None:
    policy = load_text('SecFilterEngine On\nSecFilterSelective "ARG_b|ARG_a" "x[0-9]" "id:1"\n')
    fast, plain = both(policy, get("/?a=x1&b=x2"))
    assert fast == plain and plain["matches"][0]["location"] == "ARG_b"


def test_a_nul_inside_a_value_is_found_and_one_between_values_is_not() -> None:
    policy = load_text('SecFilterEngine On\nSecFilterSelective COOKIES_VALUES "b\\x00s" "id:1"\n'
                       'SecFilterSelective COOKIES_VALUES "x\\x00" "id:2"\n')
    fast, plain = both(policy, get("/", ("Cookie", "a=b\x00s; c=x")))
    assert fast == plain and plain["matches"][0]["id"] == "1"
    fast, plain = both(policy, get("/", ("Cookie", "a=b; c=x; d=y")))
    assert fast == plain and plain["action"] == "pass"


def test_values_outside_latin1_are_searched_by_every_rule() -> None:
    policy = load_text('SecFilterEngine On\nSecFilterSelective HTTP_X-A "select" "id:1"\n')
    fast, plain = both(policy, get("/", ("X-A", "\u017felect")))
    assert fast == plain and plain["action"] == "deny"


def test_a_limit_reached_late_is_reported_by_the_rule_that_reads_it() -> None:
    many = "&".join(f"p{i}=1" for i in range(1001))
    text = """SecFilterEngine On
SecFilterSelective REQUEST_METHOD "GET" "deny,status:404,id:1"
SecFilterSelective ARG_a "attack" "id:2"
"""
    fast, plain = both(load_text(text), get("/?" + many))
    assert fast == plain and plain["status"] == 404
    text = text.replace('"GET"', '"POST"')
    fast, plain = both(load_text(text), get("/?" + many))
    assert fast == plain and plain["status"] == 413


def test_the_plan_is_built_once_per_policy() -> None:
    policy = load_text('SecFilterEngine On\nSecFilter "abc"\n')
    assert plan_for(policy) is plan_for(policy)
    both(policy, get("/abc"))
    assert policy.derived["prefilter"] is plan_for(policy)


def test_the_module_switch_chooses_the_plain_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(transaction, "evaluate_fast", lambda *a: calls.append("fast"))
    monkeypatch.setattr(transaction, "FAST_PATH", False)
    policy = load_text('SecFilterEngine On\nSecFilter "abc"\n')
    assert inspect(policy, get("/abc")).action == "deny" and calls == []
    monkeypatch.setattr(transaction, "FAST_PATH", True)
    assert inspect(policy, get("/abc")).action == "pass" and calls == ["fast"]


def test_debug_logging_uses_the_plain_loop_and_notes_every_rule() -> None:
    policy = load_text('SecFilterEngine On\nSecFilterDebugLevel 3\nSecFilter "abc"\n'
                       'SecFilter "zzz"\n')
    verdict = inspect(policy, get("/abc"), clocks=Clocks(NOW, lambda: 0.0))
    assert any("match at" in text for _, text in verdict.debug)
