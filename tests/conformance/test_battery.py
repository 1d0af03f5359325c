"""Run every YAML case of the conformance battery through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from apache_secfilter.errors import ConfigError

from .battery import (
    Case,
    check_expectations,
    environment_ok,
    fill_all,
    load_cases,
    run_case,
    write_files,
)

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, tmp_path: Path) -> None:
    reason = environment_ok(case)
    if reason:
        pytest.skip(reason)
    if "config_error" in case.data:
        _expect_config_error(case, tmp_path)
        return
    verdict = run_case(case, tmp_path)
    problems = check_expectations(verdict, fill_all(case.data.get("expect", {}), tmp_path))
    assert not problems, "\n".join(problems)


def _expect_config_error(case: Case, tmp_path: Path) -> None:
    from apache_secfilter.policy.load import load_policy
    expected = case.data["config_error"]
    config = write_files(case, tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_policy(str(config))
    error = caught.value
    if "line" in expected:
        assert error.location is not None, f"error without location: {error}"
        assert error.location.line == expected["line"], str(error)
    for text in expected.get("contains", []) if isinstance(expected.get("contains"), list) \
            else [expected.get("contains", "")]:
        assert text in str(error), str(error)


def test_battery_is_not_empty() -> None:
    assert len(CASES) > 10
