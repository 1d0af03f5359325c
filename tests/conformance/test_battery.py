"""Run every YAML case of the conformance battery through the engine."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from apache_secfilter.errors import ConfigError

from .battery import (
    Case,
    audit_decision,
    check_expectations,
    check_policy,
    environment_ok,
    fill_all,
    load_case_policy,
    load_cases,
    run_policy,
    write_files,
)

CASES = load_cases()


def _param(case: Case):  # noqa: ANN202 - pytest ParameterSet
    marks = [pytest.mark.xfail(strict=True, reason=case.pending)] if case.pending else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: Case, tmp_path: Path) -> None:
    reason = environment_ok(case)
    if reason:
        pytest.skip(reason)
    if "config_error" in case.data:
        _expect_config_error(case, tmp_path)
        return
    expect = fill_all(case.data.get("expect", {}), tmp_path)
    policy = load_case_policy(case, tmp_path)
    if "request" not in case.data:
        problems = check_policy(policy, expect)
    else:
        verdict = run_policy(case, policy, tmp_path)
        problems = check_expectations(verdict, expect, policy, tmp_path)
        if "audited" in expect:
            audited = audit_decision(case, policy, verdict, tmp_path)
            if audited != expect["audited"]:
                problems.append(f"audited: expected {expect['audited']}, got {audited}")
    assert not problems, "\n".join(problems)


def _expect_config_error(case: Case, tmp_path: Path) -> None:
    from apache_secfilter.policy.load import load_policy
    expected = fill_all(case.data["config_error"], tmp_path)
    config = write_files(case, tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_policy(str(config))
    error = caught.value
    if "line" in expected:
        assert error.location is not None, f"error without location: {error}"
        assert error.location.line == expected["line"], str(error)
    contains = expected.get("contains", [])
    for text in contains if isinstance(contains, list) else [contains]:
        assert text in str(error), str(error)


def test_battery_is_not_empty() -> None:
    assert len(CASES) > 10


def test_case_names_are_unique_per_file() -> None:
    counts = Counter(c.id for c in CASES)
    assert [name for name, n in counts.items() if n > 1] == []
