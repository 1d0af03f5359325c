"""A quick "pass" is always the transaction's plain pass: the battery, generated cases, corners.

The quick lane (engine.quick) may step aside whenever it likes; what it may
never do is say "pass" for a request the transaction would block, alert on,
log, or mark in any way.  Every case here that the lane decides is therefore
also run through the whole transaction, which must agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apache_secfilter import Clocks, Policy, Request, Verdict, inspect
from apache_secfilter.engine.quick import ENV_OVERRIDE, NEEDS_BODY, PASS, UNSURE, quick_lane
from apache_secfilter.limits import DEFAULT_LIMITS
from tests.conformance.battery import (
    CASES_DIR,
    Case,
    build_request,
    environment_ok,
    load_case_policy,
    load_cases,
    run_policy,
)
from tests.unit.engine.test_fastpath import ACTIONS, PATTERNS, load_text

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def lane_passes(policy: Policy, request: Request, body: bytes = b"") -> bool:
    """What an adapter asks before building a transaction."""
    lane = quick_lane(policy, DEFAULT_LIMITS)
    if lane is None or request.facts.is_subrequest or ENV_OVERRIDE in request.env:
        return False
    return lane.passes(request.method, request.uri, request.protocol, request.headers,
                       body or None)


def lane_judges(policy: Policy, request: Request) -> str:
    """The lane's answer from the head alone (what the mod_python hook asks first)."""
    lane = quick_lane(policy, DEFAULT_LIMITS)
    if lane is None or ENV_OVERRIDE in request.env:
        return UNSURE
    return lane.judge(request.method, request.uri, request.protocol, request.headers)


def assert_plain_pass(verdict: Verdict, context: str) -> None:
    """Nothing but "pass": no match, alert, log, header, variable or program."""
    assert verdict.action == "pass", context
    assert not verdict.matches and not verdict.alerts, context
    assert not verdict.relevant and not verdict.audit, context
    assert not verdict.env and not verdict.notes and not verdict.exec_programs, context
    assert not verdict.message_header and not verdict.action_header, context
    assert verdict.error is None and not verdict.pause_ms and not verdict.debug, context


# -- the battery --------------------------------------------------------------------------

#: Cases with a clock that counts reads time out on values no search would touch;
#: the fast path skips those values too (see test_fastpath).
REQUEST_CASES = [c for c in load_cases(CASES_DIR)
                 if "request" in c.data and not c.data.get("slow_clock")]
DECIDED: list[str] = []


@pytest.mark.parametrize("case", REQUEST_CASES, ids=[c.id for c in REQUEST_CASES])
def test_battery_cases_the_lane_passes_are_plain_passes(case: Case, tmp_path: Path) -> None:
    if environment_ok(case):
        pytest.skip(environment_ok(case))
    policy = load_case_policy(case, tmp_path)
    request, body = build_request(case.data["request"], tmp_path)
    if not lane_passes(policy, request, body):
        return
    DECIDED.append(case.id)
    assert_plain_pass(run_policy(case, policy, tmp_path), case.id)


def test_the_lane_decides_a_good_share_of_the_battery() -> None:
    """Proof that the test above exercised the lane (it runs after the battery)."""
    if not DECIDED:
        pytest.skip("run with the battery test above")
    assert len(DECIDED) >= 20, DECIDED


# -- generated policies and requests --------------------------------------------------------

HEAD_VARIABLES = ["ARGS", "ARGS_NAMES", "ARGS_VALUES", "ARG_q", "ARG_id|!ARG_q",
                  "ARGS|!ARG_id", "HEADERS", "HEADERS_NAMES", "HEADERS_VALUES",
                  "HTTP_User-Agent", "HTTP_X-Missing", "REQUEST_URI", "QUERY_STRING",
                  "THE_REQUEST", "COOKIES", "COOKIE_sid", "COOKIES_VALUES", "COOKIES_NAMES",
                  "POST_PAYLOAD", "REQUEST_METHOD", "SERVER_PROTOCOL",
                  "HEADERS|!HTTP_Cookie", "REQUEST_URI|ARGS|HEADERS_VALUES"]
MORE_PATTERNS = ["a b", "a\\+b", "a/b", "a//b", "/\\./", "sid=", "; theme", "p q", "\\+",
                 "x;y", "\"q\"", "get", "http/1", "agent", "cookie: ", "k\\x00"]
WORDS = ["select", "ab", "x", "id", "sid", "q", "/", "//", "/./", "+", " ", ";", ",", '"',
         "\x00", "\xe0b", "\u017f", "..", "1", "=", "&", "a b", "K", "get"]
UPLOAD_SETTINGS = ["SecUploadKeepFiles On", "SecUploadKeepFiles RelevantOnly",
                   "SecUploadInMemoryLimit 16", "SecUploadDir /nonexistent/dir"]
SETTINGS = ["", "SecFilterCheckURLEncoding On", "SecFilterCheckUnicodeEncoding On",
            "SecFilterForceByteRange 32 126", "SecFilterNormalizeCookies On",
            "SecFilterCookieFormat 1", "SecFilterEngine DynamicOnly",
            "SecAuditEngine RelevantOnly", "SecFilterScanPOST Off", *UPLOAD_SETTINGS]


@st.composite
def head_policies(draw: st.DrawFn) -> str:
    lines = ["SecFilterEngine On", "SecFilterScanPOST On",
             'SecFilterDefaultAction "' + draw(st.sampled_from(["pass,log", "deny,log"])) + '"']
    lines += draw(st.lists(st.sampled_from(SETTINGS), max_size=3))
    count = draw(st.integers(1, 8))
    for number in range(count):
        pattern = draw(st.sampled_from(PATTERNS + MORE_PATTERNS)).replace('"', '\\"')
        actions = draw(st.sampled_from(ACTIONS))
        if number == count - 1 and actions == "chain":
            actions = "pass"
        actions = f"id:{number + 1},{actions}"
        if draw(st.integers(0, 3)) == 0:
            lines.append(f'SecFilter "{pattern}" "{actions}"')
        else:
            variables = draw(st.sampled_from(HEAD_VARIABLES))
            lines.append(f'SecFilterSelective "{variables}" "{pattern}" "{actions}"')
    return "\n".join(lines) + "\n"


TEXT = st.lists(st.sampled_from(WORDS), max_size=4).map("".join)


@st.composite
def heads(draw: st.DrawFn) -> Request:
    params = draw(st.lists(st.tuples(st.sampled_from(["q", "id", "a", "ab", ""]), TEXT),
                           max_size=3))
    separator = draw(st.sampled_from(["=", "=", ""]))
    query = "&".join(f"{name}{separator}{value}" for name, value in params)
    uri = "/" + draw(TEXT) + ("?" + query if query else "")
    headers = [("Host", "www.example.test"), ("User-Agent", draw(TEXT) or "agent")]
    for _ in range(draw(st.integers(0, 2))):
        headers.append(("Cookie", draw(st.sampled_from(
            ["sid=", "sid=\"", "$Version=1; sid=", "theme=x, sid="])) + draw(TEXT)))
    if draw(st.booleans()):
        headers.append((draw(st.sampled_from(["X-A", "X//B", "Accept"])), draw(TEXT)))
    method = draw(st.sampled_from(["GET", "HEAD", "GE+T", "A//B"]))
    protocol = draw(st.sampled_from(["HTTP/1.1", "HTTP//1.0", ""]))
    return Request(method, uri, protocol, tuple(headers), "192.0.2.1", 4000)


BODY_WORDS = WORDS + ["%41", "%2F", "%26", "%3D", "%00", "%", "%zz", "%e9", "+", "&", "=",
                      "&&"]


@st.composite
def posts(draw: st.DrawFn) -> tuple[Request, bytes]:
    """A head with an urlencoded body (or another kind, or a chunked one)."""
    request = draw(heads())
    part = st.lists(st.sampled_from(BODY_WORDS), max_size=3).map("".join)
    pairs = draw(st.lists(st.tuples(part, part), min_size=1, max_size=4))
    body = "&".join(f"{name}={value}" for name, value in pairs)
    if draw(st.integers(0, 4)) == 0:
        body = draw(st.lists(st.sampled_from(BODY_WORDS), min_size=1, max_size=8).map("".join))
    data = body.encode("utf-8")
    kind = draw(st.sampled_from(["application/x-www-form-urlencoded", "text/plain",
                                 "application/x-www-form-urlencoded; charset=UTF-8"]))
    framing = draw(st.sampled_from([("Content-Length", str(len(data))),
                                    ("Transfer-Encoding", "chunked")]))
    headers = (*request.headers, ("Content-Type", kind), framing)
    return Request("POST", request.uri, "HTTP/1.1", headers, "192.0.2.1", 4000), data


BOUNDARY = "----WebKitFormBoundaryQ2"


@st.composite
def multipart_posts(draw: st.DrawFn) -> tuple[Request, bytes]:
    """A head with a multipart body as browsers send it (fields, maybe a file)."""
    request = draw(heads())
    text = st.lists(st.sampled_from(BODY_WORDS), max_size=3).map("".join)
    dash = f"--{BOUNDARY}"
    parts = [f'{dash}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in draw(st.lists(st.tuples(text, text), max_size=3))
             if '"' not in name and "\\" not in name]
    if draw(st.booleans()):
        parts.append(f'{dash}\r\nContent-Disposition: form-data; name="f"; filename="'
                     f'{draw(st.sampled_from(["a.txt", "..", "/etc/passwd", "x y"]))}"\r\n'
                     f"Content-Type: text/plain\r\n\r\n{draw(text)}\r\n")
    data = ("".join(parts) + dash + "--\r\n").encode("utf-8")
    headers = (*request.headers, ("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"),
               ("Content-Length", str(len(data))))
    return Request("POST", request.uri, "HTTP/1.1", headers, "192.0.2.1", 4000), data


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(head_policies(), st.lists(st.one_of(heads().map(lambda r: (r, b"")), posts(),
                                           multipart_posts()),
                                 min_size=1, max_size=4))
def test_generated_requests_the_lane_passes_are_plain_passes(
        text: str, requests: list[tuple[Request, bytes]]) -> None:
    policy = load_text(text)
    for request, body in requests:
        head_answer = lane_judges(policy, request)
        if body and head_answer == UNSURE:
            assert not lane_passes(policy, request, body), "the head said no body would do"
        if head_answer == NEEDS_BODY:  # what the mod_python hook asks once it read the body
            lane = quick_lane(policy, DEFAULT_LIMITS)
            assert lane is not None
            whole = lane.judge(request.method, request.uri, request.protocol,
                               request.headers, body)
            assert lane.judge_body(request.uri, request.headers, body) == whole
        if lane_passes(policy, request, body):
            verdict = inspect(policy, request, body, clocks=Clocks(NOW, lambda: 0.0))
            assert_plain_pass(verdict, f"{text}\n{request}\n{body!r}")


# -- corners --------------------------------------------------------------------------------

SEED = """SecFilterEngine On
SecFilterCheckURLEncoding On
SecFilterScanPOST On
SecFilterDefaultAction "deny,log,status:500"
SecFilter /etc/passwd
SecFilterSelective ARG_highlight %27
SecFilter /bin/[0-9a-z]
"""


def get(uri: str, *headers: tuple[str, str], method: str = "GET") -> Request:
    return Request(method, uri, "HTTP/1.1", (("Host", "a.test"),) + headers)


def test_a_benign_request_passes_and_an_attack_does_not() -> None:
    policy = load_text(SEED)
    assert lane_passes(policy, get("/index.php?id=4&sort=price", ("User-Agent", "Mozilla/5.0")))
    assert not lane_passes(policy, get("/index.php?file=/etc/passwd"))
    assert not lane_passes(policy, get("/x", ("Referer", "http://a.test//etc//passwd")))


def test_an_urlencoded_body_is_judged_with_the_head() -> None:
    policy = load_text(SEED)
    form = (("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", "9"))
    post = get("/c.php?a=1", *form, method="POST")
    assert lane_passes(policy, post, b"name=J%41")
    assert not lane_passes(policy, post, b"f=%2Fetc%2Fpasswd")
    assert not lane_passes(policy, post, b"a=1%")  # a bad encoding is the transaction's
    assert not lane_passes(policy, post, b"flag&b=1")  # ARGS would read "flag="
    assert not lane_passes(policy, get("/c.php", ("Content-Type", "text/xml"),
                                       ("Content-Length", "9"), method="POST"), b"<a>b</a>")
    assert not lane_passes(policy, get("/c.php", ("Content-Length", "9"), method="POST"))


def test_the_head_says_whether_the_body_is_worth_reading() -> None:
    policy = load_text(SEED)
    form = (("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", "9"))
    assert lane_judges(policy, get("/c.php?a=1", *form, method="POST")) == NEEDS_BODY
    assert lane_judges(policy, get("/c.php?f=/etc/passwd", *form, method="POST")) == UNSURE
    assert lane_judges(policy, get("/c.php?a=1")) == PASS


def test_what_the_lane_leaves_to_the_transaction() -> None:
    policy = load_text(SEED)
    assert not lane_passes(policy, get("/a%20b"))  # decoding would create characters
    assert not lane_passes(policy, get("/a?x&y=1"))  # ARGS would be rebuilt as "x=&y=1"
    assert not lane_passes(policy, get("/a", ("Cookie", "a=1"), ("Cookie", "b=2")))
    assert not lane_passes(policy, get("/a", ("Content-Length", "5")))
    assert lane_passes(policy, get("/a", ("Content-Length", "0")))
    assert not lane_passes(policy, get("/a", ("Transfer-Encoding", "chunked")))
    too_many = "&".join(f"a{n}=1" for n in range(DEFAULT_LIMITS.args + 1))
    assert not lane_passes(policy, get("/a?" + too_many))


@pytest.mark.parametrize("setting", [
    "SecAuditEngine On", "SecAuditLogRelevantStatus ^5", "SecFilterDebugLevel 1",
    "SecGuardianLog |/bin/true", "SecFilterCheckCookieFormat On", "SecFilterEngine Off",
    'SecFilterSelective REMOTE_ADDR "^10\\."', 'SecFilter "!x"', 'SecFilter "[a-z]"',
    'SecFilterSelective ARGS_COUNT "9"',
])
def test_policies_the_lane_never_decides(setting: str) -> None:
    policy = load_text(SEED + setting + "\n")
    assert quick_lane(policy, DEFAULT_LIMITS) is None


def test_output_scanning_without_output_rules_keeps_the_lane() -> None:
    policy = load_text(SEED + "SecFilterScanOutput On\n")
    assert quick_lane(policy, DEFAULT_LIMITS) is not None
    policy = load_text(SEED + 'SecFilterScanOutput On\nSecFilterSelective OUTPUT "secret"\n')
    assert quick_lane(policy, DEFAULT_LIMITS) is None


def test_byte_range_and_utf8_checks_are_applied() -> None:
    narrow = load_text(SEED + "SecFilterForceByteRange 32 126\n")
    assert not lane_passes(narrow, get("/a", ("X-A", "caf\xe9")))
    assert lane_passes(narrow, get("/a?q=a+b", ("X-A", "plain")))
    utf8 = load_text(SEED + "SecFilterCheckUnicodeEncoding On\n")
    assert not lane_passes(utf8, get("/caf\xc3\xa9"))


def test_the_lane_is_built_once_per_policy_and_limits() -> None:
    policy = load_text(SEED)
    first = quick_lane(policy, DEFAULT_LIMITS)
    assert quick_lane(policy, DEFAULT_LIMITS) is first
    assert quick_lane(policy, DEFAULT_LIMITS.with_overrides(args=10)) is not first


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["", "SecFilterScanPOST Off", *UPLOAD_SETTINGS]), multipart_posts())
def test_generated_uploads_under_the_seed_rules(setting: str,
                                                case: tuple[Request, bytes]) -> None:
    policy = load_text(SEED + setting + "\n")
    request, body = case
    if lane_passes(policy, request, body):
        verdict = inspect(policy, request, body, clocks=Clocks(NOW, lambda: 0.0))
        assert_plain_pass(verdict, f"{setting}\n{request}\n{body!r}")


def upload(*fields: tuple[str, str], content: bytes = b"x") -> tuple[Request, bytes]:
    dash = b"--" + BOUNDARY.encode()
    body = b"".join(dash + b'\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                    % (name.encode(), value.encode()) for name, value in fields)
    body += (dash + b'\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n'
             b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
             + dash + b"--\r\n")
    kind = ("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    return get("/up.php", kind, ("Content-Length", str(len(body))), method="POST"), body


def test_an_upload_is_judged_by_its_fields() -> None:
    policy = load_text(SEED)
    assert lane_passes(policy, *upload(("title", "Garden bench")))
    assert lane_passes(policy, *upload(("title", "x"), content=b"/etc/passwd" * 10_000))
    assert not lane_passes(policy, *upload(("title", "/etc/passwd")))
    assert not lane_passes(policy, *upload(("highlight", "%27")))  # ARG_highlight %27
    request, body = upload(("title", "x"))
    assert not lane_passes(policy, request, body.replace(b"--\r\n", b"--\r\nextra"))


def test_uploads_kept_approved_or_unspillable_go_to_the_transaction() -> None:
    case = upload(("title", "x"))
    for setting in ("SecUploadKeepFiles On", "SecUploadApproveScript /bin/true",
                    "SecUploadInMemoryLimit 16\nSecUploadDir /nonexistent/dir"):
        assert not lane_passes(load_text(SEED + setting + "\n"), *case), setting
    assert lane_passes(load_text(SEED + "SecUploadInMemoryLimit 16\n"), *case)
    assert quick_lane(load_text(SEED + 'SecFilterSelective FILE_NAME_f "x"\n'),
                      DEFAULT_LIMITS) is None
