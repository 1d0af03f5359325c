"""The debug log (decisions G5): line format, levels 0-9, nothing collected at 0."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from apache_secfilter.logs.debug import debug_messages, format_debug

from .helpers import UID, policy_from, record_for, run, sample_record, sample_request

RULES = """SecFilterEngine On
SecFilterDebugLevel {level}
SecFilterDefaultAction "deny,log,status:403"
SecFilterSelective ARG_q "<script" "id:1001,msg:'XSS probe'"
SecFilterSelective ARG_q "union.+select" "pass,id:1002,skipnext:1"
SecFilterSelective ARG_q "never" "id:1003"
"""
LINE = re.compile(r"^\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
                  r"\[[^\]]*\]\[rid#[^\]]+\]\[[^\]]*\]\[(\d)\] .+$")


def lines_at(tmp_path: Path, level: int, uri: str = "/s?q=hello",
             env: dict[str, str] | None = None) -> list[str]:
    policy = policy_from(tmp_path, RULES.format(level=level))
    request = sample_request(uri=uri)
    if env:
        request = replace(request, env=env)
    verdict = run(policy, request)
    record = record_for(request, verdict, verdict.status or 200)
    return format_debug(record, policy.settings.debug_level).decode().splitlines()


def test_level_0_collects_nothing(tmp_path: Path) -> None:
    policy = policy_from(tmp_path, RULES.format(level=0))
    verdict = run(policy, sample_request(uri="/s?q=<script>"))
    assert verdict.debug == ()
    assert format_debug(record_for(sample_request(), verdict, 403), 0) == b""


def test_line_format(tmp_path: Path) -> None:
    lines = lines_at(tmp_path, 3, "/s?q=<script>")
    assert lines and all(LINE.match(x) for x in lines)
    assert lines[0].startswith("[21/Mar/2006:10:15:02 +0000] [www.example.test]"
                               f"[rid#{UID}][/s?q=<script>][1] mod_security: Access denied")


@pytest.mark.parametrize("level", range(10))
def test_each_level_adds_detail(tmp_path: Path, level: int) -> None:
    lines = lines_at(tmp_path, level, "/s?q=union+all+select")
    levels = {int(LINE.match(x).group(1)) for x in lines}  # type: ignore[union-attr]
    assert levels == {1, 2, 3, 4}.intersection(range(1, level + 1))
    text = "\n".join(lines)
    assert ("Rule 1002" in text and "skipped (skipnext)" in text) is (level >= 3)
    assert ("Testing ARG_q" in text) is (level >= 4)


def test_level_2_is_one_line_per_request(tmp_path: Path) -> None:
    lines = lines_at(tmp_path, 2)
    assert len(lines) == 1 and '[2] Request "GET /s?q=hello HTTP/1.1": pass' in lines[0]


def test_values_cut_below_level_9(tmp_path: Path) -> None:
    long_value = "a" * 600
    short = [x for x in lines_at(tmp_path, 8, f"/s?q={long_value}") if "Testing ARG_q" in x]
    assert short and all(x.endswith('"' + "a" * 256 + '" (600 chars)') for x in short)
    full = [x for x in lines_at(tmp_path, 9, f"/s?q={long_value}") if "Testing ARG_q" in x]
    assert full and all(x.endswith('"' + "a" * 600 + '"') for x in full)


def test_bad_modsec_enable_warned_at_level_1(tmp_path: Path) -> None:
    lines = lines_at(tmp_path, 1, env={"MODSEC_ENABLE": "maybe"})
    assert any('[1] MODSEC_ENABLE "maybe" ignored' in x for x in lines)


def test_request_data_escaped(tmp_path: Path) -> None:
    data = b"\n".join(x.encode("latin-1") for x in
                      lines_at(tmp_path, 9, "/s?q=%0d%0a%1b[31mx\xff"))
    assert b"\x1b" not in data and b"\r" not in data and b"\xff" not in data
    assert all(LINE.match(x) for x in data.decode("ascii").split("\n"))


def test_engine_error_is_level_1() -> None:
    record = sample_record(verdict=replace(sample_record().verdict, error="internal error: X"))
    assert (1, "Engine error: internal error: X") in debug_messages(record, 1)
