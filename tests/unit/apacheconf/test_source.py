"""PolicySource: flat or Apache configuration, per-request policies compiled once."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from apache_secfilter.apacheconf import source as source_module
from apache_secfilter.apacheconf.source import load_source, request_target
from apache_secfilter.cli.show import request_for_url
from apache_secfilter.errors import ConfigError
from apache_secfilter.policy.load import load_policy
from apache_secfilter.request.model import Request, ServerFacts

TREE = """\
ServerName main.test
DocumentRoot {root}/www
<IfModule secfilter_module>
  SecFilterEngine On
  SecFilterDefaultAction "deny,log,status:403"
  SecFilterSelective ARG_a one "id:1"
</IfModule>
<Directory {root}/www/app>
  <IfModule secfilter_module>
    SecFilterSelective ARG_a two "id:2"
  </IfModule>
</Directory>
<Location /api>
  <IfModule secfilter_module>
    SecFilterSelective ARG_a three "id:3"
  </IfModule>
</Location>
<Location /never-requested>
  <IfModule secfilter_module>
    SecFilterSelective ARG_a four "id:4"
  </IfModule>
</Location>
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "www" / "app").mkdir(parents=True)
    main = tmp_path / "apache2.conf"
    main.write_text(TREE.format(root=tmp_path))
    return main


def ids(source: source_module.PolicySource, request: Request) -> list[str | None]:
    return [rule.id for rule in source.policy_for(request).rules]


def test_flat_rules_file_is_one_policy(tmp_path: Path) -> None:
    rules = tmp_path / "rules.conf"
    rules.write_text("SecFilterEngine On\nSecFilterSelective ARG_a x \"id:9\"\n")
    source = load_source(str(rules))
    assert not source.is_apache_config and source.resolve(request_for_url("/")) is None
    policy = source.policy_for(request_for_url("http://any.test/anything"))
    assert policy is source.policy_for(request_for_url("http://other.test/"))
    assert [r.id for r in policy.rules] == ["9"]
    assert source.warnings == load_policy(str(rules)).warnings
    assert source.rule_counts() == (1, 0)


def test_requests_get_the_policy_of_their_sections(tree: Path) -> None:
    source = load_source(str(tree), environ={})
    assert source.is_apache_config
    assert ids(source, request_for_url("http://main.test/")) == ["1"]
    assert ids(source, request_for_url("http://main.test/app/x.php")) == ["1", "2"]
    assert ids(source, request_for_url("http://main.test/api/v1")) == ["1", "3"]
    assert ids(source, request_for_url("http://main.test/app/x", filename="/elsewhere/x")) == [
        "1"]
    assert ids(source, request_for_url("http://main.test/app/x",
                                       docroot=str(tree.parent / "other"))) == ["1"]


def test_each_combination_is_compiled_once(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = source_module.compile_context

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(source_module, "compile_context", counting)
    source = load_source(str(tree), environ={})
    assert len(calls) == 4  # every section once, at load time
    source.policy_for(request_for_url("http://main.test/app/x.php"))
    source.policy_for(request_for_url("http://main.test/api/x"))
    assert len(calls) == 4  # (server, Directory) and (server, Location) were compiled at load
    app = tree.parent / "www" / "app"
    first = source.policy_for(request_for_url("http://main.test/api/v", filename=f"{app}/v"))
    assert len(calls) == 5  # only the Location on top of (server, Directory) is new
    again = source.policy_for(request_for_url("http://main.test/api/w", filename=f"{app}/w"))
    assert len(calls) == 5 and again is first
    assert [r.id for r in first.rules] == ["1", "2", "3"]


def test_policies_are_shared_across_threads(tree: Path) -> None:
    source = load_source(str(tree), environ={})
    found: list[object] = []
    request = request_for_url("http://main.test/app/api/z")

    def worker() -> None:
        for _ in range(50):
            found.append(source.policy_for(request))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(policy) for policy in found}) == 1


def test_an_error_in_a_section_no_request_reaches_fails_the_load(tree: Path) -> None:
    tree.write_text(tree.read_text().replace('ARG_a four "id:4"', 'ARG_a "(" "id:4"'))
    with pytest.raises(ConfigError) as caught:
        load_source(str(tree), environ={})
    assert caught.value.location.path == str(tree) and caught.value.location.line == 20


def test_missing_default_action_is_named_per_context(tmp_path: Path) -> None:
    main = tmp_path / "apache2.conf"
    main.write_text("ServerName x\n<Location /a>\n<IfModule secfilter_module>\n"
                    "SecFilterSelective ARG_a x\n</IfModule>\n</Location>\n")
    source = load_source(str(main), environ={})
    assert any("no SecFilterDefaultAction in <Location /a> apache2.conf:2" in str(w)
               for w in source.warnings)


def test_htaccess_with_sec_lines_is_named(tree: Path) -> None:
    www = tree.parent / "www"
    (www / "app" / ".htaccess").write_text("Options -Indexes\n  secfilterengine Off\n")
    (www / ".htaccess").write_text("Require all granted\n")
    source = load_source(str(tree), environ={})
    assert [str(w.location) for w in source.htaccess] == [f"{www}/app/.htaccess:2"]
    assert "secfilterengine in .htaccess is not applied" in str(source.htaccess[0])
    assert source.htaccess[0] in source.warnings
    assert load_source(str(tree), environ={}, scan_htaccess=False).htaccess == ()


def test_htaccess_honours_access_file_name(tree: Path) -> None:
    tree.write_text("AccessFileName .webconf\n" + tree.read_text())
    (tree.parent / "www" / ".webconf").write_text("SecFilterScanPOST Off\n")
    (tree.parent / "www" / ".htaccess").write_text("SecFilterScanPOST Off\n")
    source = load_source(str(tree), environ={})
    assert [w.location.path for w in source.htaccess] == [f"{tree.parent}/www/.webconf"]


def test_no_htaccess_scan_without_sec_directives(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / ".htaccess").write_text("SecFilterEngine Off\n")
    main = tmp_path / "apache2.conf"
    main.write_text(f"DocumentRoot {tmp_path}/www\n")
    assert load_source(str(main), environ={}).warnings == ()


def test_request_target_from_a_request() -> None:
    facts = ServerFacts(server_name="s", server_port=8080, server_addr="192.0.2.1",
                        script_filename="/srv/x.php", document_root="/srv")
    request = Request("GET", "http://h.test/a/b?q=1", headers=(("Host", "h.test:8080"),),
                      facts=facts)
    target = request_target(request)
    assert (target.host, target.port, target.address, target.raw_path, target.filename,
            target.document_root) == ("h.test", 8080, "192.0.2.1", "/a/b", "/srv/x.php",
                                      "/srv")
    assert request_target(replace(request, uri="https://h.test")).raw_path == "/"
    bare = Request("GET", "/p", facts=ServerFacts(server_name="fallback.test"))
    assert request_target(bare).host == "fallback.test"
