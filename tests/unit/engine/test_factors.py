"""Required strings of patterns (engine.factors): examples, and the soundness property.

The property is the one the fast path rests on: whenever a pattern matches a
value, the folded value contains one of the pattern's required strings.
"""

from __future__ import annotations

import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apache_secfilter.engine.factors import (
    fold_char,
    fold_text,
    re_compatible,
    required_sets,
    required_strings,
)
from apache_secfilter.policy.pattern import REGEX_FLAGS


def req(pattern: str) -> set[str] | None:
    found = required_strings(pattern)
    return None if found is None else set(found)


def test_literal_runs_are_folded_and_the_rarest_is_kept() -> None:
    assert req("/etc/passwd") == {"/etc/passwd"}
    assert req("SELECT\\s+polygon\\s*\\(") == {"polygon"}  # "select" is common text
    assert req("cd\\x20/tmp") == {"cd /tmp"}


def test_alternations_give_sets() -> None:
    assert req("(?:union|drop)\\s") == {"union", "drop"}
    assert req("/(usr/)?s?bin/nc\\b") == {"/bin/nc", "/sbin/nc", "/usr/bin/nc", "/usr/sbin/nc"}
    assert req("colou?r") == {"color", "colour"}
    assert req("[sS]elect") == {"select"}


def test_other_parts_every_match_needs_give_more_sets() -> None:
    assert required_sets(";\\s*id\\b") == (frozenset({"id"}), frozenset({";"}))
    assert required_sets("(?:union|drop)\\s+select") == (frozenset({"select"}),
                                                         frozenset({"union", "drop"}))
    assert required_sets("(ab)+cd") == (frozenset({"cd"}), frozenset({"ab"}))
    assert required_sets("(ab)*cd") == (frozenset({"cd"}),)  # optional parts are not needed
    assert required_sets("foo|.") == ()
    assert len(required_sets("a1.b2.c3.d4.e5")) == 3


def test_alternation_with_an_unusable_branch_gives_nothing() -> None:
    assert req("foo|.") is None
    assert req("foo|bar|") is None


def test_nothing_required() -> None:
    for pattern in ("", ".*", "\\d+", "[a-z]{3}", "(abc)?", "x*", "\\w"):
        assert req(pattern) is None, pattern


def test_posix_classes_become_any_character() -> None:
    assert re_compatible("/etc/[[:alnum:]]") == "/etc/(?s:.)"
    assert req("/bin/[[:alpha:]]+x") == {"/bin/"}
    # re would read "[[:alpha:]]" as a class followed by a literal "]"
    assert req("a[[:alpha:]]b") != {"]b"}


def test_patterns_re_would_misread_are_refused() -> None:
    assert req("(?:foobar){e<=1}") is None  # fuzzy matching in regex
    assert req("\\p{L}abc") is None
    assert req("(?x) a b c") is None
    assert req("(?|(abc)|(abd))") is None
    assert req("abc\\Kdef") is None
    assert req("a[[.x.]]bcd") is None


def test_quantifier_braces_are_fine() -> None:
    assert req("ab{2}c") == {"abbc"}
    assert req("x(?:ab){1,3}yz") in ({"yz"}, {"ab"})
    assert req("(a)\\1bcd") == {"bcd"}
    assert req("\\$\\{jndi:") == {"${jndi:"}


def test_class_escapes_other_than_hex_and_punctuation_make_any_character() -> None:
    assert req("a[\\d]bcd") == {"bcd"}
    assert req("[\\x41]bc") == {"abc"}


def test_non_latin1_literals_fold_to_what_they_match() -> None:
    assert fold_char("\u017f") == "s"  # long s matches s and S
    assert fold_char("\u212a") == "k"  # Kelvin sign
    assert fold_char("\u03c3") is None  # sigma matches no Latin-1 character
    assert req("\u017felect") == {"select"}


def test_latin1_folding_agrees_with_regex() -> None:
    for a in range(256):
        pattern = regex.compile(regex.escape(chr(a)), REGEX_FLAGS)
        for b in range(256):
            if pattern.fullmatch(chr(b)):
                assert fold_char(chr(a)) == fold_text(chr(b)), (a, b)


def test_values_outside_latin1_are_not_judged() -> None:
    assert fold_text("\u017felect") is None
    assert fold_text("SeLeCt \xc0") == "select \xe0"


# -- the property ---------------------------------------------------------------------

#: Pattern pieces, each with texts it may match (used to build values that match often).
ATOMS: dict[str, list[str]] = {
    "a": ["a", "A"], "b": ["b", "B"], "ab": ["ab", "aB"], "sel": ["sel", "SEL", "\u017fel"],
    "S": ["s", "S", "\u017f"], "\u017f": ["s", "S", "\u017f"], "\u212a": ["k", "K", "\u212a"],
    "k": ["k", "\u212a"], "\xc0": ["\xc0", "\xe0"], "\xe0": ["\xc0"], "\xdf": ["\xdf", "ss"],
    "\\x41": ["a", "A"], "\\.": ["."], ".": ["x", "\n", "."], "\\d": ["1", "\u0663"],
    "\\s": [" ", "\t"], "\\w": ["a", "_"], "[ab]": ["a", "B"], "[^a]": ["b", "A"],
    "[a-c]": ["c", "B"], "[[:alpha:]]": ["q", "]"], "[[:digit:]b]": ["7", "b"], "[Kk]": ["K"],
    "\\b": [""], "^": [""], "$": [""], "(?=a)": [""], "(?!b)": [""], "(?<=a)": [""],
    "\\x20": [" "], "\\101": ["a"], "-": ["-"], "/": ["/"], "%": ["%"], "(?i:B)": ["b"],
    "(?-i:a)": ["a", "A"], "\\t": ["\t"], "\\\\": ["\\"], "[.]": ["."], "[\\]]": ["]"],
    "[]a]": ["]"], "[\\x41-\\x43]": ["b", "C"],
}
QUANTIFIERS: dict[str, tuple[int, int]] = {
    "": (1, 1), "?": (0, 1), "*": (0, 3), "+": (1, 3), "{2}": (2, 2), "{1,2}": (1, 2),
    "*?": (0, 2), "+?": (1, 2), "?+": (0, 1), "{0,1}": (0, 1), "{,2}": (0, 2),
}
NOISE = st.sampled_from(["", "x", " ", "S", "\u017f", "\xe0", "/", "sel", "]"])


@st.composite
def pattern_and_value(draw: st.DrawFn, depth: int = 0) -> tuple[str, str]:
    """A pattern, and a value built from texts its pieces may match."""
    pattern, value = [], []
    for _ in range(draw(st.integers(1, 4))):
        if depth < 2 and draw(st.integers(0, 5)) == 0:
            alternatives = draw(st.lists(pattern_and_value(depth + 1), min_size=1, max_size=3))
            kind = draw(st.sampled_from(["(?:", "(", "(?>"]))
            atom = f"{kind}{'|'.join(p for p, _ in alternatives)})"
            texts = [v for _, v in alternatives]
        else:
            atom = draw(st.sampled_from(sorted(ATOMS)))
            texts = ATOMS[atom]
        quantifier = draw(st.sampled_from(sorted(QUANTIFIERS))) if texts != [""] else ""
        low, high = QUANTIFIERS[quantifier]
        pattern.append(atom + quantifier)
        value += [draw(st.sampled_from(texts)) for _ in range(draw(st.integers(low, high)))]
        value.append(draw(NOISE) if draw(st.integers(0, 4)) == 0 else "")
    return "".join(pattern), "".join(value)


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(pattern_and_value(), NOISE, NOISE)
def test_every_match_contains_a_required_string(made: tuple[str, str], before: str,
                                                after: str) -> None:
    pattern, value = made
    value = before + value + after
    try:
        compiled = regex.compile(pattern, REGEX_FLAGS)
    except regex.error:
        return
    sets = required_sets(pattern)
    if not sets or compiled.search(value) is None:
        return
    assert sets[0] == required_strings(pattern)
    folded = fold_text(value)
    for required in sets:  # one string of each set
        assert folded is None or any(s in folded for s in required), (pattern, value, sets)
