"""The Apache files of libapache2-mod-secfilter, checked without building anything.

* ``secfilter.load`` and ``secfilter_wsgi.load`` declare what a2enmod must
  enable and refuse, where a2enmod reads it (the first comment block);
* ``secfilter.conf`` holds the article's configuration, as the demo does,
  and mod_request's kept body as ``secfilter serve`` sets it up;
* enabled in a copy of this machine's ``/etc/apache2`` (as ``a2enmod
  secfilter`` or ``a2enmod secfilter_wsgi`` would), the whole tree loads the
  way the hooks read it (``/etc/apache2/apache2.conf``), and every case of
  the selftest battery gets its expected status from the engine.
"""

from __future__ import annotations

import os
import re
import shutil
from importlib import resources
from pathlib import Path

import pytest

from apache_secfilter import inspect
from apache_secfilter.apacheconf.source import PolicySource, load_source
from apache_secfilter.cli import selftest
from apache_secfilter.request.wire import parse_raw_request
from apache_secfilter.server.instance_config import KEPT_BODY_SIZE, kept_body_lines

REPO = Path(__file__).resolve().parents[2]
MODS = REPO / "debian" / "apache2"
STOCK = Path("/etc/apache2")
LOG_DIR = "/var/log/secfilter"


def a2enmod_header(path: Path, field: str) -> list[str]:
    """The ``# Field:`` values as a2enmod reads them: only before the first other line."""
    for line in path.read_text(encoding="utf-8").splitlines():
        found = re.match(rf"^# {field}:\s+(.*?)\s*$", line)
        if found:
            return found.group(1).split()
        if not re.match(r"^\s*(#.*)?$", line):
            break
    return []


def sec_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("Sec")]


def test_the_mod_python_hook_needs_prefork_mod_python_and_mod_request() -> None:
    assert a2enmod_header(MODS / "secfilter.load", "Depends") == ["mpm_prefork", "python",
                                                                  "request"]
    assert a2enmod_header(MODS / "secfilter.load", "Conflicts") == ["secfilter_wsgi", "wsgi"]


def test_the_mod_wsgi_hook_needs_mod_wsgi_and_excludes_mod_python() -> None:
    assert a2enmod_header(MODS / "secfilter_wsgi.load", "Depends") == ["wsgi"]
    assert a2enmod_header(MODS / "secfilter_wsgi.load", "Conflicts") == ["secfilter", "python"]


def test_the_default_settings_and_rules_are_the_articles() -> None:
    demo = resources.files("apache_secfilter") / "data" / "demo" / "demo.conf"
    expected = sec_lines(demo.read_text(encoding="utf-8").replace("@LOG_DIR@", LOG_DIR))
    assert sec_lines((MODS / "secfilter.conf").read_text(encoding="utf-8")) == expected


@pytest.mark.parametrize("path", [MODS / "secfilter.conf", REPO / "apache" / "secfilter.conf"])
def test_the_kept_body_size_is_set_as_secfilter_serve_sets_it(path: Path) -> None:
    """One value for SecFilterKeptBodySize and KeptBodySize, the <If> bound at half of it."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    option = [line for line in lines if line.startswith("PythonOption SecFilterKeptBodySize ")]
    assert option == [f"PythonOption SecFilterKeptBodySize {KEPT_BODY_SIZE}"]
    block = [line.strip() for line in kept_body_lines(KEPT_BODY_SIZE)]
    start = lines.index(block[0])
    assert lines[start:start + len(block)] == block
    assert lines.index(option[0]) < start < lines.index("</IfModule>", start + len(block))


def test_the_sec_lines_stand_inside_the_wrapper_apache_skips() -> None:
    text = (MODS / "secfilter.conf").read_text(encoding="utf-8")
    block = text[text.index("<IfModule secfilter_module>"):]
    assert len(sec_lines(block)) == len(sec_lines(text))


# -- the whole Apache tree, with the module enabled ---------------------------------------
def copy_tree(source: Path, target: Path) -> None:
    """Copy with symbolic links resolved, skipping dangling ones and our own files."""
    for directory, _, names in os.walk(source, followlinks=True):
        here = target / Path(directory).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in names:
            if os.path.isfile(os.path.join(directory, name)) and not name.startswith("secfilter"):
                shutil.copyfile(os.path.join(directory, name), here / name)


def enabled_tree(tmp_path: Path, module: str) -> Path:
    """A copy of /etc/apache2 with the package's files installed and ``module`` enabled."""
    if not (STOCK / "apache2.conf").is_file():
        pytest.skip("needs Debian's apache2 package (/etc/apache2)")
    root = tmp_path / "apache2"
    copy_tree(STOCK, root)
    for path in MODS.iterdir():
        shutil.copyfile(path, root / "mods-available" / path.name)
    for suffix in (".load", ".conf"):
        shutil.copyfile(MODS / f"{module}{suffix}", root / "mods-enabled" / f"{module}{suffix}")
    return root


def status_for(source: PolicySource, case: selftest.Case) -> int:
    """What the engine answers to the exact bytes ``secfilter selftest`` sends."""
    target = selftest.Target("http://127.0.0.1/", "127.0.0.1", 80, "127.0.0.1", "/")
    request, body = parse_raw_request(selftest.build_request(case.request, target))
    verdict = inspect(source.policy_for(request), request, body)
    return verdict.status if verdict.blocks and verdict.status else 200


@pytest.mark.parametrize("module", ["secfilter", "secfilter_wsgi"])
def test_the_enabled_tree_loads_with_the_articles_rules(tmp_path: Path, module: str) -> None:
    source = load_source(str(enabled_tree(tmp_path, module) / "apache2.conf"))
    request, _ = parse_raw_request(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    policy = source.policy_for(request)
    assert len(policy.rules) == 11
    assert policy.settings.scan_post
    # the log directory is made by the package's postinst, not present here
    assert all(LOG_DIR in str(warning) for warning in source.warnings)


def test_every_selftest_case_gets_its_status_under_the_default_configuration(
        tmp_path: Path) -> None:
    source = load_source(str(enabled_tree(tmp_path, "secfilter") / "apache2.conf"))
    wrong = [f"{case.name}: {status}, expected {case.expectation()}"
             for case in selftest.load_battery()
             if not case.passes(status := status_for(source, case))]
    assert wrong == []
