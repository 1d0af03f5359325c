"""`secfilter check` / `check --show` / `eval --config` with Apache configurations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apache_secfilter.cli import check as check_module
from apache_secfilter.cli.main import main

TREE = """\
ServerName main.test
DocumentRoot {root}/www
<IfModule secfilter_module>
  SecFilterEngine On
  SecFilterDefaultAction "deny,log,status:403"
  SecFilterSelective ARG_a one "id:1"
</IfModule>
<VirtualHost *:80>
  ServerName shop.test
  <IfModule secfilter_module>
    SecFilterDefaultAction "deny,log,status:406"
    SecFilterSelective ARG_a shop "id:10"
  </IfModule>
</VirtualHost>
<VirtualHost *:80>
  ServerName blog.test
  DocumentRoot {root}/blog
  <Directory {root}/blog/wp-admin>
    <IfModule secfilter_module>
      SecFilterEngine Off
    </IfModule>
  </Directory>
</VirtualHost>
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "www").mkdir()
    (tmp_path / "blog" / "wp-admin").mkdir(parents=True)
    main_file = tmp_path / "apache2.conf"
    main_file.write_text(TREE.format(root=tmp_path))
    return main_file


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_an_apache_configuration(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(tree))
    assert code == 0 and err == ""
    assert out == (f"OK: {tree}: Apache configuration, 1 file read, 3 sections with Sec* "
                   "directives, 2 request rules, 0 output rules\n")


def test_check_without_a_file_reads_the_debian_main_file(
        tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check_module, "DEFAULT_MAIN", str(tree))
    code, out, _ = run(capsys, "check")
    assert code == 0 and out.startswith(f"OK: {tree}: Apache configuration")


def test_check_mixed_files(tree: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.conf"
    rules.write_text("SecFilterEngine On\nSecFilter x\n")
    code, out, _ = run(capsys, "check", str(rules), str(tree))
    assert code == 0
    assert out.splitlines()[1] == ("OK: 1 file, 1 request rules, 0 output rules, "
                                   "SecFilterEngine On")


def test_check_error_anywhere_in_the_tree(tree: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    tree.write_text(tree.read_text().replace("SecFilterEngine Off", "SecFilterEngine Of"))
    code, out, err = run(capsys, "check", str(tree))
    assert code == 2 and out == ""
    assert err.startswith(f"{tree}:20: expected one of On, Off, DynamicOnly")


def test_show_picks_the_virtual_host(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--show", "http://shop.test/cart?a=1", str(tree))
    assert code == 0
    assert "Virtual host: <VirtualHost *:80> apache2.conf:8" in out
    assert '  SecFilterDefaultAction "deny,status:406,log"  (<VirtualHost *:80> ' in out
    assert "Rules, in order (2):" in out and "own rule of <VirtualHost *:80>" in out


def test_show_with_a_directory_section(tree: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--show", "http://blog.test/wp-admin/x.php", str(tree))
    assert code == 0
    assert f"File: {tree.parent}/blog/wp-admin/x.php" in out
    assert "SecFilterEngine Off  (<Directory " in out


def test_show_with_docroot(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--show", "http://blog.test/x", str(tree),
                       "--docroot", str(tree.parent / "www"))
    assert code == 0 and f"File: {tree.parent}/www/x" in out


def test_show_names_htaccess_files(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree.parent / "blog" / ".htaccess").write_text("SecFilterEngine Off\n")
    code, out, err = run(capsys, "check", "--show", "http://blog.test/", str(tree))
    assert code == 0
    line = f"{tree.parent}/blog/.htaccess:1: warning: SecFilterEngine in .htaccess is not applied"
    assert line in out and line in err


def test_show_a_flat_rules_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.conf"
    rules.write_text("SecFilterEngine On\nSecFilterSelective ARG_a x \"id:5\"\n")
    code, out, _ = run(capsys, "check", "--show", "http://x.test/", str(rules))
    assert code == 0
    assert "  * rules file" in out and "SecFilterEngine On  (rules file)" in out
    assert "Rules, in order (1):" in out


@pytest.mark.parametrize("argv,message", [
    (["--show", "http://x/"], "give one FILE"),
    (["--show", "ftp://x/"], "wants a URL"),
    (["--show", "http://x:99999/"], "bad port"),
])
def test_show_usage_errors(tree: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                           message: str) -> None:
    extra = [str(tree), str(tree)] if "give one FILE" in message else [str(tree)]
    code, out, err = run(capsys, "check", *argv, *extra)
    assert code == 2 and message in err and "Traceback" not in err


def test_eval_resolves_host_and_uri(tree: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    request = tmp_path / "req"
    request.write_bytes(b"GET /x?a=shop HTTP/1.1\r\nHost: shop.test\r\n\r\n")
    code, out, _ = run(capsys, "eval", "--config", str(tree), str(request))
    assert code == 0 and json.loads(out)["status"] == 406
    request.write_bytes(b"GET /x?a=shop HTTP/1.1\r\nHost: blog.test\r\n\r\n")
    code, out, _ = run(capsys, "eval", "--config", str(tree), str(request))
    assert json.loads(out)["action"] == "pass"


def test_eval_docroot_and_filename_decide_directory_sections(
        tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request = tmp_path / "req"
    request.write_bytes(b"GET /wp-admin/a.php?a=one HTTP/1.1\r\nHost: blog.test\r\n\r\n")
    code, out, _ = run(capsys, "eval", "--config", str(tree), str(request))
    assert json.loads(out)["action"] == "pass"  # engine Off in <Directory .../wp-admin>
    code, out, _ = run(capsys, "eval", "--config", str(tree), "--docroot",
                       str(tmp_path / "www"), str(request))
    assert json.loads(out)["action"] == "deny"
    code, out, _ = run(capsys, "eval", "--config", str(tree), "--filename",
                       str(tmp_path / "blog" / "wp-admin" / "a.php"), "--docroot",
                       str(tmp_path / "www"), str(request))
    assert json.loads(out)["action"] == "pass"


def test_a_rules_file_with_an_apache_directive_says_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.conf"
    rules.write_text("SecFilterEngine On\nSetEnvIf Request_URI x y\n")
    code, out, err = run(capsys, "check", str(rules))
    assert code == 2 and err.startswith(f"{rules}:1: SecFilterEngine stands outside")
    assert "because line 2 holds SetEnvIf" in err
