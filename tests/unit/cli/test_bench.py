"""`secfilter bench` as users and other tools call it: real runs, no timing asserted.

Every run uses a tiny --min-time and one --repeat: the figures are whatever the
machine gives, so only the structure and relations that cannot vary are checked
(which rule was searched and how often, verdicts, types, shares within 0..1).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import apache_secfilter
from apache_secfilter.apacheconf.source import load_source
from apache_secfilter.cli.main import main
from apache_secfilter.cli.workloads import workloads
from apache_secfilter.engine.profile import ProfilingMatcher, RuleProfile
from apache_secfilter.engine.transaction import Clocks, Transaction
from apache_secfilter.request.wire import parse_raw_request

FAST = ("--min-time", "0.001", "--repeat", "1")
DEMO = Path(apache_secfilter.__file__).parent / "data" / "demo" / "demo.conf"
#: One rule that the attack request makes search (line 5); the others' required
#: strings occur in no request, so the prefilter never lets them search.
RULES = """SecFilterEngine On
SecFilterDefaultAction "deny,log,status:403"
SecFilter /etc/passwd
SecFilterSelective ARGS "xp_cmdshell" "id:1"
SecFilterSelective ARGS "union.+select" "id:2"
SecFilterSelective HTTP_User-Agent "nikto" "id:3"
"""
COSTLY_LINE = 5
ATTACK = b"GET /search.php?q=union+all+select+1 HTTP/1.1\r\nHost: shop.test\r\n\r\n"
BENIGN = b"GET /search.php?q=garden+chairs HTTP/1.1\r\nHost: shop.test\r\n\r\n"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.conf"
    path.write_text(RULES)
    return path


@pytest.fixture
def requests(tmp_path: Path) -> list[Path]:
    attack, benign = tmp_path / "attack.txt", tmp_path / "benign.txt"
    attack.write_bytes(ATTACK)
    benign.write_bytes(BENIGN)
    return [attack, benign, attack]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def bench_json(capsys: pytest.CaptureFixture[str], config: Path, *files: Path) -> dict:
    code, out, err = run(capsys, "bench", "--config", str(config), "--json", *FAST,
                         *map(str, files))
    assert code == 0, err
    assert out.endswith("\n") and out.count("\n") == 1  # exactly one JSON object
    return json.loads(out)


def test_json_shape_and_types(rules: Path, requests: list[Path],
                              capsys: pytest.CaptureFixture[str]) -> None:
    report = bench_json(capsys, rules, *requests)
    assert isinstance(report["us_per_request"], float) and report["us_per_request"] > 0
    assert isinstance(report["compile_s"], float) and report["compile_s"] >= 0
    assert isinstance(report["costliest"], list) and report["costliest"]
    for entry in report["costliest"]:
        assert isinstance(entry["file"], str) and isinstance(entry["line"], int)
        assert isinstance(entry["hits"], int) and isinstance(entry["share"], float)
        assert 0.0 <= entry["share"] <= 1.0
    figures = report["requests"]
    assert [r["name"] for r in figures] == [str(p) for p in requests]
    assert report["us_per_request"] == pytest.approx(sum(r["us"] for r in figures) / 3)
    assert report["compile_s"] == pytest.approx(report["load_s"] + report["prefilter_s"])


def test_the_costly_rule_comes_first_with_its_place_and_hits(
        rules: Path, requests: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    report = bench_json(capsys, rules, *requests)
    assert [(r["action"], r["status"]) for r in report["requests"]] == [
        ("deny", 403), ("pass", None), ("deny", 403)]
    first = report["costliest"][0]
    assert (first["file"], first["line"]) == (str(rules), COSTLY_LINE)
    # two attack requests, one ARGS value each holds "union": one search each, both fire
    assert (first["hits"], first["searches"], first["id"]) == (2, 2, "2")
    assert len(report["costliest"]) == 1  # rules that never searched are not listed


def test_text_table(rules: Path, requests: list[Path],
                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "bench", "--config", str(rules), *FAST, *map(str, requests))
    assert code == 0
    assert f"{requests[0]}  deny 403" in out and f"{requests[1]}  pass" in out
    assert "compile:" in out and "mean" in out
    assert f"{rules}:{COSTLY_LINE}" in out


def test_default_workloads_with_the_shipped_demo(capsys: pytest.CaptureFixture[str]) -> None:
    """No request file: the built-in workloads; the demo's @LOG_DIR@ paths only warn."""
    code, out, err = run(capsys, "bench", "--config", str(DEMO), "--json", *FAST)
    assert code == 0 and "@LOG_DIR@" in err and "Traceback" not in err
    report = json.loads(out)
    expected = {w.name: ("deny" if w.attack else "pass") for w in workloads()}
    assert {r["name"]: r["action"] for r in report["requests"]} == expected
    shares = [c["share"] for c in report["costliest"]]
    assert shares == sorted(shares, reverse=True) and len(shares) <= 10
    assert report["request_rules"] == 11


def test_top_limits_the_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.conf"  # inverted patterns search every value
    rules.write_text("SecFilterEngine On\n" + "".join(
        f'SecFilterSelective REQUEST_URI "!^/nothing{n}" "pass"\n' for n in range(5)))
    code, out, _ = run(capsys, "bench", "--config", str(rules), "--json", "--top", "3", *FAST)
    assert code == 0
    costliest = json.loads(out)["costliest"]
    assert len(costliest) == 3
    assert {c["hits"] for c in costliest} == {len(workloads())}


APACHE = """\
ServerName main.test
DocumentRoot {root}/www
<IfModule secfilter_module>
  SecFilterEngine On
  SecFilterDefaultAction "deny,log,status:403"
</IfModule>
<Location /api>
  <IfModule secfilter_module>
    SecFilterSelective ARGS "union.+select" "id:7"
  </IfModule>
</Location>
"""


def test_apache_configuration_sections_apply_per_request(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "www").mkdir()
    conf = tmp_path / "apache2.conf"
    conf.write_text(APACHE.format(root=tmp_path))
    api, root = tmp_path / "api.txt", tmp_path / "root.txt"
    api.write_bytes(b"GET /api/find?q=union+select HTTP/1.1\r\nHost: main.test\r\n\r\n")
    root.write_bytes(b"GET /find?q=union+select HTTP/1.1\r\nHost: main.test\r\n\r\n")
    report = bench_json(capsys, conf, api, root)
    assert [r["action"] for r in report["requests"]] == ["deny", "pass"]
    assert [(c["file"], c["line"], c["hits"]) for c in report["costliest"]] == [
        (str(conf), 9, 1)]


def test_bad_config_names_file_and_line(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text('SecFilterEngine On\nSecFilterSelective ARGS "(unclosed"\n')
    code, out, err = run(capsys, "bench", "--config", str(bad), *FAST)
    assert code == 2 and out == ""
    assert err.startswith(f"{bad}:2: ") and "Traceback" not in err


def test_bad_request_file_names_file_and_line(rules: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"GET / HTTP/1.1\r\nHost: a.test\r\nno colon here\r\n\r\n")
    code, out, err = run(capsys, "bench", "--config", str(rules), *FAST, str(bad))
    assert code == 2 and out == ""
    assert f"{bad}: line 3: " in err and "Traceback" not in err


@pytest.mark.parametrize("which", ["config", "request"])
def test_missing_files(rules: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                       which: str) -> None:
    missing = tmp_path / "nope.txt"
    config = missing if which == "config" else rules
    code, out, err = run(capsys, "bench", "--config", str(config), *FAST, str(missing))
    assert code == 2 and out == ""
    assert str(missing) in err and "No such file" in err and "Traceback" not in err


@pytest.mark.parametrize("option", ["--repeat", "--min-time", "--top"])
def test_options_must_be_positive(rules: Path, option: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--config", str(rules), option, "0"])
    assert exc.value.code == 2


class Ticks:
    """A clock that advances one second per read: search durations become exact."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_profiling_matcher_counts_and_keeps_the_verdict(rules: Path) -> None:
    policy = load_source(str(rules)).policy_for(parse_raw_request(ATTACK)[0])
    clocks = Clocks(datetime(2024, 1, 2, tzinfo=UTC), time.monotonic)
    profile = RuleProfile()
    verdicts = []
    for matcher in (None, ProfilingMatcher(Ticks(), 10**9, profile)):
        request, body = parse_raw_request(ATTACK)
        verdicts.append(Transaction(policy, request, clocks, matcher=matcher).finish_request())
    assert verdicts[0] == verdicts[1] and verdicts[1].action == "deny"
    [cost] = profile.costliest(10)
    assert (cost.rule.location.line, cost.searches, cost.hits) == (COSTLY_LINE, 1, 1)
    # the time is read from the clock given, before and after the search: whole ticks
    assert cost.seconds >= 1.0 and cost.seconds.is_integer()
