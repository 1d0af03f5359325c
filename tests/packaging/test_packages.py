"""The Debian packages: built, lint-checked, and installed into a fresh Debian 12 root.

These run only with ``SECFILTER_PACKAGING_TESTS=1`` (``apache/run-tests.sh``
sets it; ``make deb lint-deb install-test`` does the same steps by hand):
they build with dpkg-buildpackage (about 10 s), run lintian (5 s) and, as
root, debootstrap and install into a temporary root (about 1 minute).  The
scripts they call print each step and its time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "tests" / "packaging"
OPT_IN = "SECFILTER_PACKAGING_TESTS"
BUILD_TOOLS = ("dpkg-buildpackage", "dh", "dh_python3", "dh_apache2", "sphinx-build", "lintian")

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(os.environ.get(OPT_IN) != "1", reason=(
        f"builds .deb files and a Debian root: set {OPT_IN}=1 (apache/run-tests.sh does), "
        "or run make deb lint-deb install-test")),
]


def run(*argv: str | Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a script; on timeout SIGTERM it, so that it stops Apache and unmounts first."""
    with subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            out, err = proc.communicate(timeout=120)
            err += f"\n(stopped after {timeout:g} s)"
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [tool for tool in BUILD_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)} (tests/packaging/install-build-deps.sh)")
    out = tmp_path_factory.mktemp("debs")
    result = run(SCRIPTS / "build-debs.sh", out, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_both_packages_are_built(debs: Path) -> None:
    names = sorted(path.name.split("_")[0] for path in debs.glob("*.deb"))
    assert names == ["libapache2-mod-secfilter", "python3-apache-secfilter"]


def test_the_packages_hold_the_apache_files_the_command_and_the_battery(debs: Path) -> None:
    listing = ""
    for deb in debs.glob("*.deb"):
        listing += run("dpkg-deb", "--contents", deb, timeout=60).stdout
    for path in ("./etc/apache2/mods-available/secfilter.load",
                 "./etc/apache2/mods-available/secfilter.conf",
                 "./etc/apache2/mods-available/secfilter_wsgi.load",
                 "./etc/apache2/mods-available/secfilter_wsgi.conf",
                 "./usr/share/libapache2-mod-secfilter/wsgi/access.wsgi",
                 "./usr/bin/secfilter", "./usr/share/man/man1/secfilter.1.gz",
                 "/dist-packages/apache_secfilter/data/selftest/article.yaml",
                 "/dist-packages/apache_secfilter/adapters/modpython.py"):
        assert path in listing, path


def test_lintian_reports_no_error_and_no_warning(debs: Path) -> None:
    changes = sorted(debs.glob("*.changes"))
    result = run("lintian", "--fail-on", "error,warning", "--info", *changes, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap, chroot and mount need root")
def test_installed_in_a_fresh_debian_root_it_blocks_the_attack(debs: Path) -> None:
    if shutil.which("debootstrap") is None:
        pytest.skip("missing debootstrap (tests/packaging/install-build-deps.sh)")
    result = run(SCRIPTS / "install-test.sh", debs, timeout=1200)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "install-test: PASSED" in result.stdout
