"""Section matching as Apache's request.c does it, one rule per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from apache_secfilter.apacheconf.match import (
    directory_matches,
    files_matches,
    fnmatch_regex,
    location_matches,
    map_to_file,
    prepare_matcher,
    request_uri_path,
    walked_directories,
)
from apache_secfilter.apacheconf.tree import DIRECTORY, FILES, LOCATION, Section
from apache_secfilter.errors import ConfigError, Location


def section(kind: str, tag: str, *args: str, root: str = "/srv") -> Section:
    made = Section(kind, tag, args, Location("apache2.conf", 1), 1)
    prepare_matcher(made, root)
    return made


@pytest.mark.parametrize("pattern,text,matches", [
    ("*.php", "index.php", True),
    ("*.php", "a/b.php", False),
    ("/home/*/public_html/", "/home/ann/public_html/", True),
    ("/home/*/public_html/", "/home/a/b/public_html/", False),
    ("file?.txt", "file1.txt", True),
    ("[abc].txt", "b.txt", True),
    ("[!abc].txt", "b.txt", False),
    ("[!abc].txt", "d.txt", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("[unclosed", "[unclosed", True),
])
def test_fnmatch_with_pathname(pattern: str, text: str, matches: bool) -> None:
    assert (fnmatch_regex(pattern).fullmatch(text) is not None) is matches


@pytest.mark.parametrize("raw,path", [
    ("/", "/"),
    ("", "/"),
    ("/a/./b", "/a/b"),
    ("/a/../b", "/b"),
    ("/../../etc/passwd", "/etc/passwd"),
    ("/a/b/..", "/a/"),
    ("/a/%2e%2e/b", "/b"),
    ("/%61dmin/", "/admin/"),
    ("//a///b", "/a/b"),
    ("/a%20b", "/a b"),
    ("/caf%e9", "/caf\xe9"),
    ("/a%2fb", "/a/b"),
])
def test_request_uri_path(raw: str, path: str) -> None:
    assert request_uri_path(raw) == path


@pytest.mark.parametrize("pattern,uri,matches", [
    ("/admin", "/admin", True),
    ("/admin", "/admin/", True),
    ("/admin", "/admin/x", True),
    ("/admin", "/administrator", False),
    ("/admin/", "/admin", False),
    ("/admin/", "/admin/x", True),
    ("/", "/anything", True),
    ("/a*/x", "/abc/x", True),
    ("/a*/x", "/abc/x/y", False),
])
def test_location_prefix_rules(pattern: str, uri: str, matches: bool) -> None:
    assert location_matches(section(LOCATION, "Location", pattern), uri) is matches


def test_location_match_searches() -> None:
    made = section(LOCATION, "LocationMatch", r"\.php$")
    assert location_matches(made, "/a/b.php") and not location_matches(made, "/a.phps")
    assert location_matches(section(LOCATION, "Location", "~", "^/x"), "/xyz")


def test_walked_directories() -> None:
    assert walked_directories("/var/www/html/index.php") == [
        "/", "/var/", "/var/www/", "/var/www/html/"]
    assert walked_directories("/var/www/html/") == ["/", "/var/", "/var/www/", "/var/www/html/"]
    assert walked_directories("") == [] and walked_directories("relative/x") == []


@pytest.mark.parametrize("pattern,filename,matches", [
    ("/var/www", "/var/www/html/x", True),
    ("/var/www/", "/var/www/x", True),
    ("/var/www", "/var/wwwx/x", False),
    ("/var/www/html", "/var/www/html", False),
    ("/var/www/html", "/var/www/html/", True),
    ("/", "/x", True),
    ("/var/*/html", "/var/www/html/x", True),
    ("/var/*/html", "/var/www/sub/html/x", False),
])
def test_directory_matches(pattern: str, filename: str, matches: bool) -> None:
    made = section(DIRECTORY, "Directory", pattern)
    assert directory_matches(made, walked_directories(filename), filename) is matches


def test_directory_paths_are_server_root_relative_and_normalised() -> None:
    assert section(DIRECTORY, "Directory", "htdocs", root="/srv").pattern == "/srv/htdocs/"
    assert section(DIRECTORY, "Directory", "/a//b/").pattern == "/a/b/"
    assert section(DIRECTORY, "Directory", "/").components == 0
    assert section(DIRECTORY, "Directory", "/a/b").components == 3


def test_directory_match_searches_the_whole_file_name() -> None:
    made = section(DIRECTORY, "DirectoryMatch", r"\.git")
    assert directory_matches(made, [], "/srv/.git/config")
    assert not directory_matches(made, [], "")


@pytest.mark.parametrize("tag,args,filename,matches", [
    ("Files", ("upload.php",), "/srv/upload.php", True),
    ("Files", ("upload.php",), "/srv/upload.php.bak", False),
    ("Files", ("*.php",), "/srv/x/a.php", True),
    ("FilesMatch", (r"\.ph(p|tml)$",), "/srv/a.phtml", True),
    ("Files", ("~", r"^\.ht"), "/srv/.htaccess", True),
    ("Files", ("x",), "", False),
])
def test_files_matches_the_last_component(tag: str, args: tuple[str, ...], filename: str,
                                          matches: bool) -> None:
    assert files_matches(section(FILES, tag, *args), filename) is matches


def test_bad_section_arguments() -> None:
    with pytest.raises(ConfigError, match="invalid regular expression"):
        section(FILES, "FilesMatch", "(")
    with pytest.raises(ConfigError, match="takes one path"):
        section(LOCATION, "Location", "/a", "/b")
    with pytest.raises(ConfigError, match="takes one regular expression"):
        section(LOCATION, "LocationMatch", "a", "b")


def test_map_to_file_walks_the_disk(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "index.php").write_text("")
    root = str(tmp_path)
    assert map_to_file("/app/index.php/extra/info", root) == f"{root}/app/index.php"
    assert map_to_file("/app/", root) == f"{root}/app/"
    assert map_to_file("/app", root) == f"{root}/app/"
    assert map_to_file("/missing/x.php", root) == f"{root}/missing"
    assert map_to_file("/", root) == f"{root}/"


def test_map_to_file_without_the_directory_on_this_machine(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    assert map_to_file("/a/b.php", missing) == f"{missing}/a/b.php"


def test_aliases_come_before_the_document_root(tmp_path: Path) -> None:
    aliases = [("/cgi-bin/", "/usr/lib/cgi-bin-missing/"), ("/icons", "/usr/share/icons-x")]
    assert map_to_file("/cgi-bin/t.cgi", "/srv", aliases) == "/usr/lib/cgi-bin-missing/t.cgi"
    assert map_to_file("/icons/a.png", "/srv", aliases) == "/usr/share/icons-x/a.png"
    assert map_to_file("/iconsx/a.png", "/srv-missing", aliases) == "/srv-missing/iconsx/a.png"
