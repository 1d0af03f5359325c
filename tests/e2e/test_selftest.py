"""``secfilter selftest`` against real Apache instances (mod_python, prefork + mod_php).

The shipped battery is written for the article's configuration: every case
must pass against a site that runs it, and every attack must fail against
the same site with the engine off, which proves that the battery notices an
unprotected server.
"""

from __future__ import annotations

import pytest

from apache_secfilter.cli import selftest
from apache_secfilter.cli.main import main

from .conftest import Site, StartSite, article_rules

pytestmark = pytest.mark.apache


@pytest.fixture(scope="module")
def article_site(start_site: StartSite) -> Site:
    """Only the article's configuration: what the Debian package enables by default."""
    return start_site(article_rules())


def run(capsys: pytest.CaptureFixture[str], site: Site) -> tuple[int, list[str]]:
    code = main(["selftest", f"http://127.0.0.1:{site.port}/", "--timeout", "15"])
    return code, capsys.readouterr().out.splitlines()


def test_every_case_passes_against_the_article_configuration(article_site: Site,
                                                             capsys) -> None:
    code, lines = run(capsys, article_site)
    total = len(selftest.load_battery())
    assert code == 0, "\n".join(lines)
    assert lines[-1] == f"{total} passed, 0 failed"


def test_every_attack_fails_with_the_engine_off(unfiltered_site: Site, capsys) -> None:
    code, lines = run(capsys, unfiltered_site)
    cases = selftest.load_battery()
    attacks = sum(1 for case in cases if case.status is not None)
    assert code == 1
    assert lines[-1] == f"{len(cases) - attacks} passed, {attacks} failed"
