"""Action lists: spec §4.1 syntax, §6.1 vocabulary, decisions L14-L15."""

from __future__ import annotations

import pytest

from apache_secfilter.errors import ConfigError, Location
from apache_secfilter.language.actionlist import (
    KNOWN_ACTIONS,
    MODSEC2_ONLY_ACTIONS,
    SEVERITY_NAMES,
    parse_action_list,
)
from apache_secfilter.language.ast import ActionItem

HERE = Location("rules.conf", 12)


def pairs(text: str) -> list[tuple[str, str | None]]:
    return [(item.name, item.value) for item in parse_action_list(text, HERE)]


# --------------------------------------------------------------------------- accepted


VALID_CASES = [
    # every 1.x action
    ("deny", [("deny", None)]),
    ("allow", [("allow", None)]),
    ("pass", [("pass", None)]),
    ("redirect:http://example.com/blocked.html",
     [("redirect", "http://example.com/blocked.html")]),
    ("proxy:http://backend:8080/", [("proxy", "http://backend:8080/")]),
    ("status:403", [("status", "403")]),
    ("exec:/usr/local/bin/alert.sh", [("exec", "/usr/local/bin/alert.sh")]),
    ("execute:/usr/local/bin/alert.sh", [("exec", "/usr/local/bin/alert.sh")]),  # L15
    ("pause:5000", [("pause", "5000")]),
    ("chain", [("chain", None)]),
    ("skipnext", [("skipnext", None)]),
    ("skipnext:2", [("skipnext", "2")]),
    ("log", [("log", None)]),
    ("nolog", [("nolog", None)]),
    ("auditlog", [("auditlog", None)]),
    ("noauditlog", [("noauditlog", None)]),
    ("id:1001", [("id", "1001")]),
    ("rev:2", [("rev", "2")]),
    ("msg:Directory traversal", [("msg", "Directory traversal")]),
    ("severity:4", [("severity", "4")]),
    ("mandatory", [("mandatory", None)]),
    ("setenv:blocked=yes", [("setenv", "blocked=yes")]),
    ("setnote:reason=sqli", [("setnote", "reason=sqli")]),
    ("logparts:ABCFHZ", [("logparts", "ABCFHZ")]),
    # lists as written in the wild
    ("deny,log,status:500", [("deny", None), ("log", None), ("status", "500")]),
    ("deny,log,status:406", [("deny", None), ("log", None), ("status", "406")]),
    ("log,pass", [("log", None), ("pass", None)]),
    ("pass,skipnext:1", [("pass", None), ("skipnext", "1")]),
    ("deny,log,redirect:http://x/?a=1:2", [("deny", None), ("log", None),
                                          ("redirect", "http://x/?a=1:2")]),
    # single-quoted values
    ("msg:'text, with comma'", [("msg", "text, with comma")]),
    ("id:'990002'", [("id", "990002")]),
    ("severity:'4'", [("severity", "4")]),
    ("status:'404'", [("status", "404")]),
    ("log,id:'300001',msg:'SQL injection, union',severity:'2'",
     [("log", None), ("id", "300001"), ("msg", "SQL injection, union"), ("severity", "2")]),
    ("msg:'it\\'s'", [("msg", "it's")]),
    ("msg:'a\\\\b \\d'", [("msg", "a\\b \\d")]),
    ("msg:'a:b'", [("msg", "a:b")]),
    ("msg:don't", [("msg", "don't")]),  # a quote inside an unquoted value is text
    # case and spaces
    ("DENY,Log,Status:403", [("deny", None), ("log", None), ("status", "403")]),
    ("Execute:/bin/true", [("exec", "/bin/true")]),
    (" deny , log ,status:403 ", [("deny", None), ("log", None), ("status", "403")]),
    ("msg: 'spaced'", [("msg", "spaced")]),
    ("msg:'padded' , log", [("msg", "padded"), ("log", None)]),
    # value normalisation
    ("severity:warning", [("severity", "WARNING")]),
    ("severity:Emergency", [("severity", "EMERGENCY")]),
    ("severity:07", [("severity", "7")]),
    ("status:0403", [("status", "403")]),
    ("pause:0", [("pause", "0")]),
    ("setenv:FOO", [("setenv", "FOO=1")]),
    ("setnote:x=", [("setnote", "x=")]),
    ("setenv:a=b=c", [("setenv", "a=b=c")]),
]


@pytest.mark.parametrize(("text", "expected"), VALID_CASES)
def test_valid_lists(text: str, expected: list[tuple[str, str | None]]) -> None:
    assert pairs(text) == expected


def test_items_carry_the_location() -> None:
    items = parse_action_list("deny,msg:'x'", HERE)
    assert items == (ActionItem("deny", None, HERE), ActionItem("msg", "x", HERE))


def test_location_is_optional() -> None:
    assert parse_action_list("deny") == (ActionItem("deny", None, None),)


@pytest.mark.parametrize("name", SEVERITY_NAMES)
def test_every_severity_name(name: str) -> None:
    assert pairs(f"severity:{name.lower()}") == [("severity", name)]


@pytest.mark.parametrize("number", range(8))
def test_every_severity_number(number: int) -> None:
    assert pairs(f"severity:{number}") == [("severity", str(number))]


@pytest.mark.parametrize("status", [100, 200, 302, 403, 404, 500, 503, 599])
def test_status_range_accepted(status: int) -> None:
    assert pairs(f"status:{status}") == [("status", str(status))]


def test_known_actions_are_the_1x_set() -> None:
    expected = {
        "deny", "allow", "pass", "redirect", "proxy", "status", "exec", "execute", "pause",
        "chain", "skipnext", "log", "nolog", "auditlog", "noauditlog", "id", "rev", "msg",
        "severity", "mandatory", "setenv", "setnote", "logparts",
    }
    assert expected == KNOWN_ACTIONS
    assert not KNOWN_ACTIONS & MODSEC2_ONLY_ACTIONS.keys()


# --------------------------------------------------------------------------- refused


ERROR_CASES = [
    ("", "empty action list"),
    ("   ", "empty action list"),
    ("deny,,log", "empty item"),
    (",deny", "empty item"),
    ("deny,", "empty item"),
    ("deny, ,log", "empty item"),
    (":403", "empty item"),
    ("redirect:", "redirect: needs a URL"),
    ("redirect", "redirect: needs a URL"),
    ("redirect:''", "redirect: needs a URL"),
    ("deny,log,redirect:", "redirect: needs a URL"),
    ("status", "needs a value"),
    ("status:", "needs a value"),
    ("exec", "needs a value"),
    ("execute:", "needs a value"),
    ("pause", "needs a value"),
    ("id", "needs a value"),
    ("rev:", "needs a value"),
    ("msg", "needs a value"),
    ("msg:''", "needs a value"),
    ("severity", "needs a value"),
    ("setenv", "needs a value"),
    ("setnote:", "needs a value"),
    ("logparts", "needs a value"),
    ("proxy", "needs a value"),
    ("deny:1", "takes no value"),
    ("log:yes", "takes no value"),
    ("chain:2", "takes no value"),
    ("mandatory:", "takes no value"),
    ("status:99", "100-599"),
    ("status:600", "100-599"),
    ("status:abc", "whole number"),
    ("status:-1", "whole number"),
    ("status:4O3", "whole number"),
    ("status:٤٠٣", "whole number"),  # non-ASCII digits
    ("pause:-5", "whole number"),
    ("pause:1.5", "whole number"),
    ("skipnext:0", "at least 1"),
    ("skipnext:x", "whole number"),
    ("severity:8", "0-7"),
    ("severity:SEVERE", "0-7"),
    ("severity:-1", "0-7"),
    ("setenv:=1", "NAME=VALUE"),
    ("setnote:'a b=c'", "NAME=VALUE"),
    ("msg:'unclosed", "unclosed quote"),
    ("msg:'ends in backslash\\'", "unclosed quote"),
    ("msg:'x'y", "after the quoted value"),
    ("foo", "unknown action 'foo'"),
    ("deny,Foo:1", "unknown action 'Foo'"),
    ("denny,log", "unknown action 'denny'"),
    ('"deny', "unknown action"),
]


@pytest.mark.parametrize(("text", "fragment"), ERROR_CASES)
def test_errors(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_action_list(text, HERE)
    assert fragment in caught.value.message
    assert caught.value.location == HERE
    assert str(caught.value).startswith("rules.conf:12: ")


def test_unknown_action_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_action_list("bogus", HERE)
    for name in ("deny", "skipnext", "setnote", "logparts"):
        assert name in caught.value.message


MODSEC2_CASES = [
    "phase:2", "t:none", "t:lowercase", "block", "drop", "ctl:ruleEngine=Off",
    "setvar:tx.score=+1", "capture", "tag:'WEB_ATTACK'", "skip:1", "skipAfter:END",
    "logdata:'%{MATCHED_VAR}'", "initcol:ip=%{REMOTE_ADDR}", "setuid:x", "setsid:x",
    "expirevar:ip.x=60", "deprecatevar:ip.x=1/60", "multiMatch", "sanitiseArg:password",
    "sanitizeMatched", "accuracy:9", "maturity:9", "ver:'CRS/3'", "xmlns:x=http://x",
    "append:x", "prepend:x", "nocapture", "Phase:2",
]


@pytest.mark.parametrize("item", MODSEC2_CASES)
def test_modsecurity2_actions_are_refused(item: str) -> None:
    name = item.split(":", 1)[0]
    with pytest.raises(ConfigError) as caught:
        parse_action_list(f"deny,log,{item}", HERE)
    assert "ModSecurity 2.x syntax is not 1.x" in caught.value.message
    assert f"'{name}'" in caught.value.message
    assert caught.value.location == HERE


def test_typical_2x_list_is_refused_at_its_first_2x_item() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_action_list("id:1,phase:2,t:none,deny,status:403", HERE)
    assert "'phase'" in caught.value.message
