"""Choosing the virtual host and the sections, beyond the YAML cases."""

from __future__ import annotations

from pathlib import Path

from apache_secfilter.apacheconf.reader import read_config
from apache_secfilter.apacheconf.resolve import Resolver, Target


def resolver(tmp_path: Path, text: str) -> Resolver:
    main = tmp_path / "apache2.conf"
    main.write_text(text)
    return Resolver(read_config(str(main), environ={}))


def test_ipv6_address_and_host_with_trailing_dot(tmp_path: Path) -> None:
    found = resolver(tmp_path, (
        "<VirtualHost *:80>\n ServerName a.test\n</VirtualHost>\n"
        "<VirtualHost [2001:db8::1]:80>\n ServerName six.test\n</VirtualHost>\n"
        "<VirtualHost *:80>\n ServerName b.test\n</VirtualHost>\n"))
    six = found.choose_vhost("x.test", 80, "2001:db8::1")
    assert six is not None and six.server_name == "six.test"
    b_host = found.choose_vhost("B.TEST.", 80, "127.0.0.1")
    assert b_host is not None and b_host.server_name == "b.test"


def test_answers_are_cached_per_target(tmp_path: Path) -> None:
    found = resolver(tmp_path, "<Location /a>\n</Location>\n")
    first = found.resolve(Target(raw_path="/a/x"))
    assert found.resolve(Target(raw_path="/a/x")) is first
    assert found.resolve.cache_info().hits == 1
    assert [s.tag for s in first.sections] == ["server", "Location"]
    assert first.key == (0,)  # the Location holds no Sec* line: nothing to merge


def test_no_document_root_means_no_file(tmp_path: Path) -> None:
    found = resolver(tmp_path, "<Directory />\n</Directory>\n")
    resolution = found.resolve(Target(raw_path="/x"))
    assert resolution.filename == "" and [s.tag for s in resolution.sections] == ["server"]
