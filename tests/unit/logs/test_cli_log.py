"""`secfilter log`: reading all three formats, filters, --full, --stats, bad input."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apache_secfilter.adapters.sinks import LogWriters
from apache_secfilter.cli.main import main
from apache_secfilter.engine.verdict import Match
from apache_secfilter.logs.record import AuditRecord
from apache_secfilter.policy.model import Settings

from .helpers import WHEN, sample_record, sample_request, sample_verdict


def records() -> list[AuditRecord]:
    xss = sample_record()
    sqli_match = Match("2001", "SQL injection", None, "ARG_id", "union.+select", "/r", 7,
                       action="deny")
    sqli = sample_record(
        unique_id="u2", time=WHEN + timedelta(hours=1),
        request=sample_request(uri="/item.php?id=1+union+select", remote_addr="198.51.100.7"),
        verdict=sample_verdict(matches=(sqli_match,), alerts=("mod_security: Access denied "
                                                              "with code 500. sqli",)),
        status=500)
    clean = sample_record(unique_id="u3", time=WHEN + timedelta(hours=2), status=200,
                          request=sample_request(uri="/index.html", remote_addr="192.0.2.11",
                                                 headers=(("User-Agent", "\x1b[31mred"),)),
                          verdict=sample_verdict(matches=(), alerts=(), action="pass",
                                                 status=None))
    return [xss, sqli, clean]


def write_all(tmp_path: Path) -> dict[str, Path]:
    writers = LogWriters()
    on = Settings(audit_engine="On")
    paths = {"serial": tmp_path / "serial.log", "json": tmp_path / "audit.json",
             "index": tmp_path / "index", "store": tmp_path / "store"}
    variants = [replace(on, audit_log=str(paths["serial"])),
                replace(on, audit_log=str(paths["json"]), audit_format="JSON"),
                replace(on, audit_log=str(paths["index"]), audit_log_type="Concurrent",
                        audit_storage_dir=str(paths["store"]))]
    for record in records():
        for variant in variants:
            assert writers.write_audit(variant, record, print)
    writers.close()
    return paths


@pytest.fixture
def logs(tmp_path: Path) -> dict[str, Path]:
    return write_all(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["log", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def sources(logs: dict[str, Path]) -> list[list[str]]:
    return [[str(logs["serial"])], [str(logs["json"])],
            ["--storage-dir", str(logs["store"]), str(logs["index"])], [str(logs["store"])]]


def test_one_line_per_transaction_in_every_format(logs: dict[str, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for source in sources(logs):
        code, out, err = run(capsys, *source)
        assert code == 0 and err == ""
        outputs.append(out)
    assert outputs[0] == outputs[1] == outputs[2]
    lines = outputs[0].splitlines()
    assert lines[0] == ('2006-03-21T10:15:02+0000 192.0.2.10 403 '
                        '"GET /search.php?q=%3Cscript%3E HTTP/1.1" rules=1001 '
                        'id=RNzb5X8AAAEAAB@xAAAAAA msg="XSS probe"')
    assert lines[2].endswith("rules=- id=u3")
    assert sorted(outputs[3].splitlines()) == sorted(lines)


@pytest.mark.parametrize("options,ids", [
    (["--rule", "1001"], ["RNzb5X8AAAEAAB@xAAAAAA"]),
    (["--rule", "2001", "--rule", "1001"], ["RNzb5X8AAAEAAB@xAAAAAA", "u2"]),
    (["--client", "198.51.100.7"], ["u2"]),
    (["--client", "192.0.2.0/24"], ["RNzb5X8AAAEAAB@xAAAAAA", "u3"]),
    (["--status", "500"], ["u2"]),
    (["--status", "4xx"], ["RNzb5X8AAAEAAB@xAAAAAA"]),
    (["--uri", r"union\+select"], ["u2"]),
    (["--uri", "^/index"], ["u3"]),
    (["--since", "2006-03-21T11:00:00+00:00"], ["u2", "u3"]),
    (["--until", "21/Mar/2006:11:30:00 +0000"], ["RNzb5X8AAAEAAB@xAAAAAA", "u2"]),
    (["--since", "2006-03-21T10:30+00:00", "--until", "2006-03-21T11:30+00:00"], ["u2"]),
    (["--status", "200", "--rule", "1001"], []),
])
def test_filters(logs: dict[str, Path], capsys: pytest.CaptureFixture[str],
                 options: list[str], ids: list[str]) -> None:
    for source in sources(logs)[:3]:
        code, out, _ = run(capsys, *options, *source)
        assert code == 0
        assert [x.rsplit("id=", 1)[1].split(" ")[0] for x in out.splitlines()] == ids


def test_full_prints_whole_entries(logs: dict[str, Path],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--full", "--rule", "1001", str(logs["serial"]))
    assert out.startswith("=" * 40 + "\nRequest: ") and "\nHTTP/1.1 403 Forbidden\n" in out
    _, out, _ = run(capsys, "--full", "--rule", "1001", str(logs["json"]))
    assert '"unique_id": "RNzb5X8AAAEAAB@xAAAAAA"' in out
    _, out, _ = run(capsys, "--full", "--rule", "1001", "--storage-dir", str(logs["store"]),
                    str(logs["index"]))
    assert " md5:" in out.split("\n")[0] and "-H--\nMessage: Access denied" in out


def test_stats(logs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--stats", str(logs["serial"]), str(logs["json"]))
    assert code == 0
    assert out.splitlines()[:2] == ["transactions: 6", "statuses: 403 2, 500 2, 200 2"]
    assert "       2  1001  XSS probe" in out and "       2  198.51.100.7" in out
    assert "       2  /item.php" in out


def test_no_escape_sequences_reach_the_terminal(logs: dict[str, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for source in sources(logs):
        for extra in ([], ["--full"]):
            _, out, _ = run(capsys, *extra, *source)
            assert "\x1b" not in out


def test_index_without_entry_files_warns(logs: dict[str, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(logs["index"]))
    assert code == 0 and len(out.splitlines()) == 3 and "rules=- " in out
    assert "3 entry file(s) not found" in err and "--storage-dir" in err


@pytest.mark.parametrize("kind", ["serial", "json", "index"])
def test_truncated_last_entry_reported_and_others_kept(logs: dict[str, Path], kind: str,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    path = logs[kind]
    path.write_bytes(path.read_bytes()[:-25])
    extra = ["--storage-dir", str(logs["store"])] if kind == "index" else []
    code, out, err = run(capsys, *extra, str(path))
    assert code == 0 and len(out.splitlines()) == 2
    assert err.startswith(f"secfilter log: {path}:") and "incomplete" in err
    assert err.count("\n") == 1


def test_truncated_entry_file_in_storage_dir(logs: dict[str, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    victim = sorted(p for p in logs["store"].rglob("*") if p.is_file())[0]
    victim.write_bytes(victim.read_bytes()[:-10])
    code, out, err = run(capsys, str(logs["store"]))
    assert code == 0 and len(out.splitlines()) == 2 and "no Z part" in err


def one_error(code: int, out: str, err: str, printed: int = 0) -> str:
    assert code == 2 and len(out.splitlines()) == printed and "Traceback" not in err
    assert err.count("\n") == 1
    return err


def test_garbage_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.log"
    bad.write_text("\n\nhello\n")
    err = one_error(*run(capsys, str(bad)))
    assert err.startswith(f"secfilter log: {bad}:3: not an audit log")


def test_damage_in_the_middle_is_an_error(logs: dict[str, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    lines = logs["json"].read_text().splitlines(keepends=True)
    logs["json"].write_text(lines[0] + lines[1][:40] + "\n" + lines[2])
    err = one_error(*run(capsys, str(logs["json"])), printed=1)  # entries before it
    assert f"{logs['json']}:2: not a JSON audit entry" in err


def test_entry_not_matching_its_md5(logs: dict[str, Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    victim = sorted(p for p in logs["store"].rglob("*") if p.is_file())[0]
    victim.write_bytes(victim.read_bytes().replace(b"Host", b"HOST"))
    err = one_error(*run(capsys, "--storage-dir", str(logs["store"]), str(logs["index"])))
    assert f"{logs['index']}:" in err and "does not match its index line" in err


@pytest.mark.parametrize("options,message", [
    (["--uri", "("], "--uri: bad regular expression"),
    (["--since", "yesterday"], "cannot read the time 'yesterday'"),
    (["--status", "abc"], "--status: 'abc'"),
    (["--client", "nobody"], "--client: 'nobody'"),
    (["--format", "json"], "not a json audit log"),
])
def test_bad_options(logs: dict[str, Path], capsys: pytest.CaptureFixture[str],
                     options: list[str], message: str) -> None:
    err = one_error(*run(capsys, *options, str(logs["serial"])))
    assert message in err


def test_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_error(*run(capsys, str(tmp_path / "nope")))
    assert "no such file or directory" in err


def test_empty_file_is_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.log").write_text("")
    assert run(capsys, str(tmp_path / "empty.log")) == (0, "", "")


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), fmt=st.sampled_from(["auto", "serial", "json",
                                                          "concurrent"]))
def test_fuzzed_input_never_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       data: bytes, fmt: str) -> None:
    path = tmp_path / "fuzz.log"
    path.write_bytes(data)
    code, out, err = run(capsys, "--format", fmt, str(path))
    assert code in (0, 2) and "Traceback" not in err
    assert "\x1b" not in out + err


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=1, max_value=3000), kind=st.sampled_from(["serial", "json"]))
def test_any_cut_keeps_complete_entries(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        cut: int, kind: str) -> None:
    base = tmp_path / uuid.uuid4().hex  # hypothesis may repeat an example
    base.mkdir()
    paths = write_all(base)
    data = paths[kind].read_bytes()
    paths[kind].write_bytes(data[:max(0, len(data) - cut)])
    code, out, err = run(capsys, str(paths[kind]))
    assert code == 0 and "Traceback" not in err


def test_rule_without_id_named_by_file_and_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    anonymous = Match(None, None, None, "THE_REQUEST", "/etc/passwd", "/etc/apache2/rules.conf",
                      10, action="deny")
    record = sample_record(verdict=sample_verdict(matches=(anonymous,)))
    for fmt in ("Native", "JSON"):
        path = tmp_path / f"log.{fmt}"
        LogWriters().write_audit(Settings(audit_engine="On", audit_log=str(path),
                                          audit_format=fmt), record, print)
        _, out, _ = run(capsys, str(path))
        assert "rules=/etc/apache2/rules.conf:10 " in out
        for wanted in ("rules.conf:10", "/etc/apache2/rules.conf:10"):
            _, out, _ = run(capsys, "--rule", wanted, str(path))
            assert len(out.splitlines()) == 1
        _, out, _ = run(capsys, "--rule", "s.conf:10", str(path))
        assert out == ""
