"""Patterns are checked at load, kept as text, compiled on first search."""

from __future__ import annotations

import pickle
import random
import warnings

import pytest
import regex

from apache_secfilter import Request, inspect
from apache_secfilter.errors import ConfigError, Location
from apache_secfilter.policy.compile import compile_pattern
from apache_secfilter.policy.pattern import REGEX_FLAGS, LazyPattern, check_pattern, re_compatible
from tests.unit.engine.test_fastpath import load_text

HERE = Location("rules.conf", 3)


@pytest.mark.parametrize("bad", ["(", "[a-", "a{2,1}", "(?<=a+)b(", "\\p{Nonsense}",
                                 "[[:nonsense:]]", "(?P<n>a)(?P=m)", "*a"])
def test_invalid_patterns_are_errors_at_their_line(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_pattern(bad, HERE)
    assert "rules.conf:3" in str(caught.value)


@pytest.mark.parametrize("good", ["union\\s+select", "[[:alpha:]]+", "\\p{L}", "(?<=ab+)c",
                                  "(?x) a b", "colou?r", "(?:a){e<=1}"])
def test_valid_patterns_load_and_search_as_regex_does(good: str) -> None:
    lazy, negated, source = compile_pattern(good, HERE)
    assert not negated and isinstance(lazy, LazyPattern) and lazy._compiled is None
    for text in ("union  select", "Alpha", "abbc", "ab", "color", "b"):
        expected = regex.compile(source, REGEX_FLAGS).search(text)
        found = lazy.search(text)
        assert (found is None) == (expected is None)
    assert lazy._compiled is not None


def test_a_pattern_pickles_as_text() -> None:
    lazy = check_pattern("a+b")
    lazy.search("aab")
    again = pickle.loads(pickle.dumps(lazy))
    assert again == lazy and again._compiled is None and again.search("xaab")


def test_whatever_python_reads_in_the_shared_syntax_regex_compiles() -> None:
    """The property the fast load-time check rests on, over random pattern text."""
    alphabet = list("ab()[]{}|*+?.^$\\-:=!<>#,09dDwWsSbBAZzx_ /") + [
        "(?:", "(?=", "(?!", "(?<=", "(?<!", "(?P<n>", "(?P=n)", "(?i)", "(?s)", "(?#",
        "\\x4", "{1,2}", "{,3}", "\\1", "(?>", "*+", "++", "[^", "[[", "&&", "--", "||"]
    rng = random.Random(7)
    checked = 0
    for _ in range(40000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
        if re_compatible(text) != text:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check_pattern(text)
        except regex.error:
            continue
        regex.compile(text, REGEX_FLAGS)  # raises if the check was too lenient
        checked += 1
    assert checked > 5000


def test_a_pattern_that_fails_to_compile_at_search_fails_the_request_closed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    policy = load_text('SecFilterEngine On\nSecFilterSelective ARG_q "ab+c"\n')

    def broken(self: LazyPattern) -> None:
        raise regex.error("surprise")

    monkeypatch.setattr(LazyPattern, "compiled", property(broken))
    verdict = inspect(policy, Request("GET", "/?q=abbc", "HTTP/1.1", (("Host", "a"),)))
    assert verdict.action == "deny" and verdict.status == 500
    assert "does not compile" in (verdict.error or "")
