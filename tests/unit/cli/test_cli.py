"""`secfilter check` and `secfilter eval` as other tools call them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apache_secfilter.cli.main import main

RULES = """SecFilterEngine On
SecFilterScanPOST On
SecFilterDefaultAction "deny,log,status:500"
SecFilter /etc/passwd
SecFilterSelective ARG_highlight %27 "id:1001,msg:'Santy worm'"
"""


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.conf"
    path.write_text(RULES)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_ok_prints_one_line(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(rules))
    assert code == 0
    assert out.count("\n") == 1 and "2 request rules" in out
    assert err == ""


def test_check_error_names_file_and_line(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("SecFilterEngine On\n\nSecFilterSelective ARG_x \"(unclosed\"\n")
    code, out, err = run(capsys, "check", str(bad))
    assert code == 2 and out == ""
    assert err.startswith(f"{bad}:3: ") and "Traceback" not in err


@pytest.mark.parametrize("text,line", [
    ("SecRule ARGS \"x\" \"phase:2,deny\"\n", 1),
    ("SecFilterEngine On\nSecFilterEngine Maybe\n", 2),
    ("SecFilter a chain\n", 1),
    ("SecChrootDir /chroot\n", 1),
    ("SecFilter x \"deny,t:lowercase\"\n", 1),
])
def test_check_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                      line: int) -> None:
    path = tmp_path / "r.conf"
    path.write_text(text)
    code, _, err = run(capsys, "check", str(path))
    assert code == 2 and err.startswith(f"{path}:{line}: ")


def test_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", str(tmp_path / "nope.conf"))
    assert code == 2 and "nope.conf" in err and "Traceback" not in err


def test_check_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", str(tmp_path))
    assert code == 2 and "Traceback" not in err


def test_eval_denies_and_prints_contract(rules: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    req = tmp_path / "req.txt"
    req.write_bytes(b"GET /v.php?highlight=%2527 HTTP/1.1\r\nHost: a.test\r\n\r\n")
    code, out, _ = run(capsys, "eval", "--config", str(rules), "--remote-addr", "192.0.2.1",
                       str(req))
    assert code == 0
    verdict = json.loads(out)
    assert {"action", "status", "location", "phase", "matches", "alerts",
            "relevant"} <= set(verdict)
    assert verdict["action"] == "deny" and verdict["status"] == 500
    match = verdict["matches"][0]
    assert set(match) == {"id", "msg", "severity", "location", "pattern", "file", "line"}
    assert match["id"] == "1001" and match["location"] == "ARG_highlight"
    assert match["file"] == str(rules) and match["line"] == 5


def test_eval_pass_has_null_status(rules: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    req = tmp_path / "req.txt"
    req.write_bytes(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
    code, out, _ = run(capsys, "eval", "--config", str(rules), str(req))
    verdict = json.loads(out)
    assert code == 0 and verdict["action"] == "pass" and verdict["status"] is None
    assert verdict["phase"] is None and verdict["matches"] == []


def test_eval_response_phase(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "out.conf"
    rules.write_text("SecFilterEngine On\nSecFilterScanOutput On\n"
                     "SecFilterDefaultAction \"deny,log,status:500\"\n"
                     "SecFilterSelective OUTPUT \"root:x:0:0\"\n")
    req, resp = tmp_path / "req", tmp_path / "resp"
    req.write_bytes(b"GET /x.php HTTP/1.1\r\nHost: a\r\n\r\n")
    resp.write_bytes(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 16\r\n\r\n"
                     b"root:x:0:0:root:")
    code, out, _ = run(capsys, "eval", "--config", str(rules), "--response", str(resp),
                       str(req))
    verdict = json.loads(out)
    assert verdict["action"] == "deny" and verdict["phase"] == "response"
    assert verdict["status"] == 500


def test_eval_unreadable_request(rules: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "eval", "--config", str(rules), str(tmp_path / "none"))
    assert code == 2 and out == "" and "Traceback" not in err


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_eval_never_prints_a_traceback(rules: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    req = tmp_path / "fuzz.txt"
    req.write_bytes(data)
    code, out, err = run(capsys, "eval", "--config", str(rules), str(req))
    assert "Traceback" not in err
    assert code in (0, 2)
    if code == 0:
        assert json.loads(out)["action"] in ("deny", "redirect", "allow", "pass")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_check_never_prints_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        data: bytes) -> None:
    path = tmp_path / "fuzz.conf"
    path.write_bytes(data)
    code, _, err = run(capsys, "check", str(path))
    assert "Traceback" not in err and code in (0, 2)


def test_include_loop_names_the_include_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.conf").write_text("SecFilterEngine On\nInclude b.conf\n")
    (tmp_path / "b.conf").write_text("\nInclude a.conf\n")
    code, _, err = run(capsys, "check", str(tmp_path / "a.conf"))
    assert code == 2 and err.startswith(f"{tmp_path / 'b.conf'}:2: Include loop")


def test_unreadable_include_names_the_include_line(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.conf").write_text("SecFilterEngine On\nInclude gone.conf\n")
    (tmp_path / "gone.conf").symlink_to(tmp_path / "nowhere.conf")
    code, _, err = run(capsys, "check", str(tmp_path / "a.conf"))
    assert code == 2 and err.startswith(f"{tmp_path / 'a.conf'}:2: ") and "Traceback" not in err
