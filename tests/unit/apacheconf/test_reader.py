"""The Apache configuration reader: conditionals, variables, includes, detection."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apache_secfilter.apacheconf.conditions import Conditions, version_matches
from apache_secfilter.apacheconf.includes import include_targets
from apache_secfilter.apacheconf.reader import is_rules_file, read_config
from apache_secfilter.apacheconf.source import load_source
from apache_secfilter.apacheconf.variables import Variables, read_envvars
from apache_secfilter.cli.show import request_for_url
from apache_secfilter.errors import ConfigError, Location
from apache_secfilter.language.ast import SectionOpen
from apache_secfilter.language.grammar import parse_text

HERE = Location("apache2.conf", 1)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return root / "apache2.conf"


@pytest.mark.parametrize("args,holds", [
    (("2.4.71",), True), (("=", "2.4.71"), True), (("==", "2.4"), False),
    ((">=", "2.4"), True), ((">", "2.4.71"), False), (("<", "2.5"), True),
    (("<=2.4.70",), False), ((">=2.4.70",), True), (("!", "2.4.71"), False),
    (("!=", "2.4.71"), False), (("~", r"^2\.4"), True), (("/^2\\.2/",), False),
    (("!/^2\\.2/",), True),
])
def test_ifversion(args: tuple[str, ...], holds: bool) -> None:
    assert version_matches(args, (2, 4, 71), HERE) is holds


def test_ifversion_errors() -> None:
    with pytest.raises(ConfigError, match="not a version"):
        version_matches(("two",), (2, 4, 71), HERE)
    with pytest.raises(ConfigError, match="invalid regular expression"):
        version_matches(("~", "("), (2, 4, 71), HERE)


def test_modules_known_by_identifier_and_source_name() -> None:
    conditions = Conditions("/etc/apache2")
    assert conditions.module_loaded("mod_so.c") and conditions.module_loaded("unixd_module")
    assert not conditions.module_loaded("rewrite_module")
    conditions.load_module("rewrite_module", "/usr/lib/apache2/modules/mod_rewrite.so")
    assert conditions.module_loaded("rewrite_module") and conditions.module_loaded("mod_rewrite.c")
    assert not conditions.module_loaded("Mod_Rewrite.c")  # Apache compares case-sensitively


def test_conditional_needs_an_argument() -> None:
    with pytest.raises(ConfigError, match="needs an argument"):
        Conditions("/").holds(SectionOpen("IfModule", (), HERE))


def test_envvars_like_debian(tmp_path: Path) -> None:
    envvars = tmp_path / "envvars"
    envvars.write_text(
        "unset HOME\n"
        'if [ "${APACHE_CONFDIR##/etc/apache2-}" != "${APACHE_CONFDIR}" ] ; then\n'
        '\tSUFFIX="-${APACHE_CONFDIR##/etc/apache2-}"\nelse\n\tSUFFIX=\nfi\n'
        "export APACHE_RUN_USER=www-data\n"
        "export APACHE_LOG_DIR=/var/log/apache2$SUFFIX\n"
        "export APACHE_PID_FILE=${APACHE_RUN_DIR:-x}/pid\n"
        "LANG=C\nexport LANG\n"
        "#export APACHE_LYNX='www-browser -dump'\n"
        "export QUOTED='a b'\n")
    plain = read_envvars(str(envvars), "/etc/apache2")
    assert plain["APACHE_LOG_DIR"] == "/var/log/apache2"
    assert plain["APACHE_RUN_USER"] == "www-data" and plain["LANG"] == "C"
    assert plain["QUOTED"] == "a b" and "APACHE_LYNX" not in plain and "SUFFIX" not in plain
    assert read_envvars(str(envvars), "/etc/apache2-web2")["APACHE_LOG_DIR"] == (
        "/var/log/apache2-web2")


def test_variables_prefer_define_and_warn_once() -> None:
    variables = Variables({"A": "from-define"}, {"A": "from-env", "B": "env"})
    assert variables.substitute("${A}/${B}/${C}/${C}", HERE) == "from-define/env/${C}/${C}"
    assert len(variables.warnings) == 1 and "${C} is not defined" in str(variables.warnings[0])


def test_include_directory_is_recursive_and_sorted(tmp_path: Path) -> None:
    write(tmp_path, {"d/b.conf": "", "d/a/z.conf": "", "d/c/a.conf": "", "d/.hidden": ""})
    found = include_targets("d", str(tmp_path), False, HERE)
    assert [Path(p).relative_to(tmp_path).as_posix() for p in found] == [
        "d/.hidden", "d/a/z.conf", "d/b.conf", "d/c/a.conf"]
    found = include_targets("d/*.conf", str(tmp_path), False, HERE)
    assert [Path(p).name for p in found] == ["b.conf"]
    found = include_targets("d/*", str(tmp_path), False, HERE)
    assert [Path(p).name for p in found] == ["z.conf", "b.conf", "a.conf"]


def test_include_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        include_targets("missing.conf", str(tmp_path), False, HERE)
    assert include_targets("missing.conf", str(tmp_path), True, HERE) == []
    assert include_targets("none/*.conf", str(tmp_path), True, HERE) == []


@pytest.mark.parametrize("text,flat", [
    ("SecFilterEngine On\n", True),
    ("", True),
    ("<IfModule mod_security.c>\nSecFilter x\n</IfModule>\nInclude rules/*.conf\n", True),
    ("ServerName x\n", False),
    ("<Location /x>\n</Location>\n", False),
    ("<IfModule mod_security.c>\nSetEnv a b\n</IfModule>\n", False),
])
def test_flat_rules_file_detection(text: str, flat: bool) -> None:
    assert is_rules_file(parse_text(text)) is flat


def test_skipped_blocks_are_not_read(tmp_path: Path) -> None:
    main = write(tmp_path, {"apache2.conf": (
        'ServerName x\n<IfModule missing_module>\n  SecFilterSelective "unclosed\n'
        "  Include does-not-exist.conf\n  <IfModule secfilter_module>\n    SecFilter (\n"
        "  </IfModule>\n</IfModule>\n")})
    config = read_config(str(main), environ={})
    assert config.sec_directive_count == 0 and config.files == [str(main)]


def test_server_root_and_document_roots(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    main = write(tmp_path, {
        "apache2.conf": f"ServerRoot {other}\nInclude inc.conf\nDocumentRoot htdocs\n"
                        "<VirtualHost *:80>\n DocumentRoot /srv/a/\n</VirtualHost>\n",
        "elsewhere/inc.conf": "ServerName main.test\n"})
    config = read_config(str(main), environ={})
    assert config.server_root == str(other) and config.server.server_name == "main.test"
    assert config.document_roots() == [f"{other}/htdocs", "/srv/a"]


def test_warnings_of_the_grammar_only_for_files_with_sec_lines(tmp_path: Path) -> None:
    main = write(tmp_path, {
        "apache2.conf": 'ServerName x\nLogFormat "unclosed\nInclude rules.conf\n',
        "rules.conf": "<IfModule secfilter_module>\nSecFilter \u201cx\u201d\n</IfModule>\n"})
    config = read_config(str(main), environ={})
    texts = [str(w) for w in config.warnings]
    assert len(texts) == 1 and "rules.conf:2" in texts[0] and "typographic" in texts[0]


def test_access_file_name_and_aliases_are_kept(tmp_path: Path) -> None:
    main = write(tmp_path, {"apache2.conf": (
        "AccessFileName .ht-local\nAlias /icons/ /usr/share/icons/\n"
        "ScriptAlias /cgi-bin/ cgi/\n")})
    config = read_config(str(main), environ={})
    assert config.server.access_file_names == (".ht-local",)
    assert config.server.aliases == [("/icons/", "/usr/share/icons"),
                                     ("/cgi-bin/", f"{tmp_path}/cgi")]


def test_unknown_sec_directive_in_the_wrapper(tmp_path: Path) -> None:
    main = write(tmp_path, {"apache2.conf": (
        "ServerName x\n<IfModule secfilter_module>\nSecFilterNormalizeEncoding On\n"
        "</IfModule>\n")})
    with pytest.raises(ConfigError) as caught:
        read_config(str(main), environ={})
    assert caught.value.location.line == 3 and "unknown directive" in str(caught.value)


def test_include_loop_through_two_files(tmp_path: Path) -> None:
    main = write(tmp_path, {"apache2.conf": "ServerName x\nInclude a.conf\n",
                            "a.conf": "Include b.conf\n", "b.conf": "Include a.conf\n"})
    with pytest.raises(ConfigError, match="Include loop") as caught:
        read_config(str(main), environ={})
    assert caught.value.location.path.endswith("b.conf")


def test_ifdirective_and_ifsection_never_see_our_directives(tmp_path: Path) -> None:
    main = write(tmp_path, {"apache2.conf": (
        "ServerName x\n<IfDirective !SecFilterEngine>\n  Define NO_SEC\n</IfDirective>\n"
        "<IfDirective ServerName>\n  Define HAVE_SERVERNAME\n</IfDirective>\n"
        "<IfSection Location>\n  Define HAVE_LOCATION\n</IfSection>\n")})
    config = read_config(str(main), environ={})
    assert {"NO_SEC", "HAVE_SERVERNAME", "HAVE_LOCATION"} <= set(config.defines)


def test_a_negated_wrapper_is_read_by_apache(tmp_path: Path) -> None:
    main = write(tmp_path, {"apache2.conf": (
        "ServerName x\n<IfModule !mod_security.c>\n  SecFilterEngine On\n</IfModule>\n")})
    with pytest.raises(ConfigError, match="outside <IfModule secfilter_module>"):
        read_config(str(main), environ={})


def test_any_other_section_refuses_sec_directives(tmp_path: Path) -> None:
    main = write(tmp_path, {"apache2.conf": (
        "ServerName x\n<RequireAll>\n<IfModule secfilter_module>\nSecFilterEngine On\n"
        "</IfModule>\n</RequireAll>\n<AuthnProviderAlias file f>\n<IfModule secfilter_module>\n"
        "</IfModule>\n</AuthnProviderAlias>\n")})
    with pytest.raises(ConfigError, match="hold Require directives only") as caught:
        read_config(str(main), environ={})
    assert caught.value.location.line == 4
    main.write_text("ServerName x\n<Whatever a>\n<IfModule secfilter_module>\n"
                    "SecFilterEngine On\n</IfModule>\n</Whatever>\n")
    with pytest.raises(ConfigError, match="not a section Apache merges"):
        read_config(str(main), environ={})


@pytest.mark.parametrize("address,message", [
    ("*:http", "bad port"), ("[::1", "bad address"), ("*:0", "bad port"),
])
def test_bad_virtual_host_addresses(tmp_path: Path, address: str, message: str) -> None:
    main = write(tmp_path, {"apache2.conf": f"<VirtualHost {address}>\n</VirtualHost>\n"})
    with pytest.raises(ConfigError, match=message):
        read_config(str(main), environ={})


def test_virtual_host_addresses(tmp_path: Path) -> None:
    main = write(tmp_path, {"apache2.conf": (
        "<VirtualHost [2001:db8::1]:8443 192.0.2.1 *:* Example.COM:80>\n"
        "  ServerName WWW.Example.com:8443\n  ServerAlias A.test b.*\n</VirtualHost>\n")})
    vhost = read_config(str(main), environ={}).vhosts[0]
    assert [(a.host, a.port) for a in vhost.addresses] == [
        ("[2001:db8::1]", 8443), ("192.0.2.1", None), ("*", None), ("example.com", 80)]
    assert vhost.server_name == "www.example.com" and vhost.server_aliases == ["a.test", "b.*"]


def test_nested_wrappers_and_sections_inside_the_wrapper(tmp_path: Path) -> None:
    main = write(tmp_path, {"apache2.conf": (
        "ServerName x\n<IfModule secfilter_module>\n  SecFilterEngine On\n"
        "  <IfModule mod_security.c>\n    SecFilterScanPOST On\n  </IfModule>\n"
        "  <Location /a>\n    SecFilterEngine Off\n    <IfModule version_module>\n"
        "      SecFilterScanPOST Off\n    </IfModule>\n  </Location>\n</IfModule>\n")})
    config = read_config(str(main), environ={})
    location = config.server.children[0]
    assert [d.name for d in config.server.directives] == ["SecFilterEngine", "SecFilterScanPOST"]
    assert location.tag == "Location" and [d.args[0] for d in location.directives] == [
        "Off", "Off"]


_LINES = [
    "ServerName a.test", "Define X 1", "<IfDefine X>", "</IfDefine>", "<IfModule {m}>",
    "</IfModule>", "<Location {p}>", "</Location>", "<Directory {p}>", "</Directory>",
    "<Files {p}>", "</Files>", "<VirtualHost {a}>", "</VirtualHost>", "<If true>", "</If>",
    "SecFilterEngine {v}", "SecFilterSelective ARG_a {p} \"id:1\"", "SecFilterRemove 1",
    "Include inc{p}", "IncludeOptional inc{p}", "DocumentRoot {p}", "<LocationMatch {p}>",
    "</LocationMatch>", "<IfVersion {p}>", "</IfVersion>", "SecAuditLog {p}", "${{{p}}}",
]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(_LINES),
                          st.sampled_from(["secfilter_module", "mod_security.c", "x_module",
                                           "!version_module"]),
                          st.text(alphabet="/*?[]~^$(.az-!", max_size=6),
                          st.sampled_from(["*:80", "_default_", "1.2.3.4:8", "*:x", "[::1]"]),
                          st.sampled_from(["On", "Off", "Maybe"])),
                max_size=14))
def test_any_tree_loads_or_fails_with_a_config_error(tmp_path: Path, lines: list) -> None:
    text = "\n".join(line.format(m=m, p=p or "/", a=a, v=v) for line, m, p, a, v in lines)
    main = write(tmp_path, {"apache2.conf": "ServerName fuzz.test\n" + text + "\n"})
    try:
        source = load_source(str(main), environ={}, scan_htaccess=False)
    except ConfigError:
        return
    for path in ("/", "/a/b", "/%2e%2e/x"):
        source.policy_for(request_for_url("http://fuzz.test" + path))
