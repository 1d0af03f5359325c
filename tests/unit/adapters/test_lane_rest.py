"""The quick lane rests after many requests in a row it left to the transaction in vain.

Asking costs time; with thousands of signatures it never answers.  Resting only
sends requests to the transaction, which decides everything exactly, so what
matters here is when the lane is asked, that it is asked again, and that
requests the transaction refuses (an attack flood) never make it rest.
"""

from __future__ import annotations

from pathlib import Path

from apache_secfilter.adapters.common import LANE_MISSES, LANE_REST, LoadedPolicy
from apache_secfilter.apacheconf.source import load_source
from apache_secfilter.engine.quick import PASS, UNSURE
from apache_secfilter.engine.verdict import Verdict

RULES = """SecFilterEngine On
SecFilterDefaultAction "deny,log,status:403"
SecFilterSelective HTTP_User-Agent "curl"
"""
HEADERS = [("Host", "www.example.test")]
PASSED = Verdict()
REFUSED = Verdict(action="deny", status=403, alerts=("mod_security: Access denied",))


def loaded(tmp_path: Path) -> LoadedPolicy:
    path = tmp_path / "rules.conf"
    path.write_text(RULES)
    return LoadedPolicy(str(path), load_source(str(path)))


def ask(policy: LoadedPolicy, agent: str) -> str:
    return policy.judge_quickly("GET", "/index.php?id=1", "HTTP/1.1",
                                [*HEADERS, ("User-Agent", agent)], {})


def miss(policy: LoadedPolicy, verdict: Verdict) -> None:
    """What a hook does with a request the lane left to the transaction."""
    assert ask(policy, "curl/8.0") == UNSURE
    policy.lane_missed(verdict)


def test_the_lane_rests_after_many_misses_in_vain(tmp_path: Path) -> None:
    policy = loaded(tmp_path)
    assert ask(policy, "Mozilla/5.0") == PASS
    for _ in range(LANE_MISSES):
        miss(policy, PASSED)
    # resting: not asked, even about a request it would pass
    assert [ask(policy, "Mozilla/5.0") for _ in range(LANE_REST)] == [UNSURE] * LANE_REST
    assert ask(policy, "Mozilla/5.0") == PASS  # asked again


def test_refused_requests_never_make_it_rest(tmp_path: Path) -> None:
    policy = loaded(tmp_path)
    for _ in range(10 * LANE_MISSES):
        miss(policy, REFUSED)
    assert policy.lane_rest == 0
    assert ask(policy, "Mozilla/5.0") == PASS


def test_an_answer_starts_the_count_again(tmp_path: Path) -> None:
    policy = loaded(tmp_path)
    for _ in range(3):
        for _ in range(LANE_MISSES - 1):
            miss(policy, PASSED)
        assert ask(policy, "Mozilla/5.0") == PASS
    assert policy.lane_rest == 0
