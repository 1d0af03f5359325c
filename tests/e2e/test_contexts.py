"""Per-context rules in a live server (issue: rules written in Apache sections).

The rules file holds <Location> sections inside <IfModule secfilter_module>,
as users write them in apache2.conf: a rule removed for one location is off
there and on elsewhere; a configuration error makes the hook deny and say why.
"""

from __future__ import annotations

import time

import pytest

from .conftest import Site, StartSite

pytestmark = pytest.mark.apache

CONTEXT_RULES = """\
<IfModule secfilter_module>
  SecFilterEngine On
  SecFilterDefaultAction "deny,log,status:500"
  SecFilter /etc/passwd "id:1001"
  SecFilterSelective ARG_cmd "uname" "id:1002"
  <Location /upload.php>
    SecFilterRemove 1001
  </Location>
  <Location /admin>
    SecFilterDefaultAction "deny,log,status:403"
    SecFilterSelective ARG_debug "." "id:2001"
  </Location>
</IfModule>
"""


@pytest.fixture(scope="module", params=["mod_python", "mod_wsgi"])
def context_site(request: pytest.FixtureRequest, start_site: StartSite) -> Site:
    return start_site(CONTEXT_RULES, adapter=request.param)


def test_rule_removed_in_one_location_is_off_there(context_site: Site) -> None:
    assert context_site.get("/upload.php?f=/etc/passwd").status in (200, 404)


def test_the_same_rule_is_on_elsewhere(context_site: Site) -> None:
    assert context_site.get("/post.php?f=/etc/passwd").status == 500


def test_other_inherited_rules_still_apply_in_that_location(context_site: Site) -> None:
    assert context_site.get("/upload.php?cmd=uname").status == 500


def test_a_location_adds_rules_with_its_own_default_action(context_site: Site) -> None:
    assert context_site.get("/admin/x.php?debug=1").status == 403
    assert context_site.get("/post.php?debug=1").status == 200


def test_a_configuration_error_denies_and_says_why(start_site: StartSite) -> None:
    broken = CONTEXT_RULES.replace('"id:1002"', '"id:1002,phase:2"')
    site = start_site(broken, validate=False)
    deadline = time.monotonic() + 10  # children compile the rules when they start
    while "configuration error" not in site.error_log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    before = site.error_log_text()
    assert "configuration error" in before and "rules.conf:" in before, before[-2000:]
    assert site.get("/post.php").status == 500
    log = site.error_log_text()
    assert "configuration error" in log and "ModSecurity 2.x syntax is not 1.x" in log
