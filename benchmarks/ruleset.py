"""A deterministic, realistic attack rule set of any size, for the benchmarks.

Rule sets that administrators grow into the thousands are mostly attack
signatures: SQL injection, cross-site scripting, local file inclusion,
command and code injection, scanners, odd encodings.  This module builds such
a set from word lists and the shapes real signatures take (keywords joined by
``\\s+``, alternations, bounded classes, anchors), always the same for the
same size, so that figures can be compared between runs and machines.

Every rule is written in 1.x form (``SecFilterSelective VARS "regex"``) and,
for the comparison with mod_security2, as the ``SecRule`` that does the same
(``t:none,t:urlDecode,t:replaceNulls,t:normalisePath,t:lowercase``).  A
candidate that matches any benign workload is dropped: the benchmark measures
what rules cost when they do not fire, as on almost every real request.

The seed article's configuration (``apache_secfilter/data/demo/demo.conf``
without its log files) has a hand-written mod_security2 translation too, so
that the in-Apache benchmark compares the same rules at every size.

    python benchmarks/ruleset.py 1000 > rules.conf        # 1.x
    python benchmarks/ruleset.py 1000 --secrule > rules2.conf
    python benchmarks/ruleset.py seed --secrule > seed2.conf
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import regex

import apache_secfilter
from apache_secfilter.language.grammar import quote_argument

MAIN_TARGETS = "ARGS|HEADERS_VALUES|REQUEST_URI"
#: The transformations every translated rule applies, as 1.x normalised every value.
SECRULE_TRANSFORMS = "t:none,t:urlDecode,t:replaceNulls,t:normalisePath,t:lowercase"
DEMO = Path(apache_secfilter.__file__).parent / "data" / "demo" / "demo.conf"
#: What a 1.x ``SecFilter`` reads (request line, headers, body), in mod_security2 terms.
#: mod_security2 fills REQUEST_BODY only for urlencoded bodies, not for multipart ones.
SIMPLE_TARGETS = "REQUEST_LINE|REQUEST_HEADERS|REQUEST_BODY"
#: 1.x options of the seed that need no mod_security2 line: they are its defaults
#: (all bytes allowed, no Unicode check, no debug log) or are set by the site
#: (no audit log: the seed's SecAuditLog line is dropped with the other log lines).
SEED_SILENT_OPTIONS = ("SecFilterCheckUnicodeEncoding", "SecFilterForceByteRange",
                       "SecFilterDebugLevel", "SecAuditEngine")

SQL_FUNCTIONS = (
    "benchmark", "sleep", "pg_sleep", "load_file", "char", "concat", "concat_ws",
    "group_concat", "substring", "ascii", "hex", "unhex", "version", "database",
    "current_user", "system_user", "schema", "extractvalue", "updatexml", "name_const",
    "floor", "rand", "mid", "instr", "locate", "convert", "cast", "utl_inaddr.get_host_address",
    "dbms_pipe.receive_message", "xp_cmdshell", "sp_executesql", "openrowset", "dbms_lock.sleep",
    "randomblob", "sqlite_version", "make_set", "elt", "json_keys", "polygon", "multipoint",
    "geometrycollection", "linestring", "gtid_subset", "row_count", "found_rows",
    "last_insert_id", "connection_id", "aes_decrypt", "from_base64", "to_base64", "conv", "lpad",
    "rpad", "strcmp", "ifnull", "nullif", "coalesce", "char_length", "octet_length", "bit_length",
    "soundex", "export_set", "uncompress", "inet_aton", "master_pos_wait", "get_lock",
    "release_lock", "is_free_lock", "pg_read_file", "pg_ls_dir", "lo_import", "lo_export",
    "dblink_connect", "current_setting", "query_to_xml", "xmltype", "ctxsys.drithsx.sn",
    "dbms_xmlgen.getxml", "sys_context", "utl_http.request", "utl_file.fopen",
)
SQL_TABLES = (
    "information_schema.tables", "information_schema.columns", "information_schema.schemata",
    "information_schema.routines", "mysql.user", "mysql.db", "pg_catalog.pg_tables",
    "pg_catalog.pg_user", "pg_shadow", "pg_group", "sysobjects", "syscolumns", "sysusers",
    "sys.databases", "sys.tables", "sys.sql_logins", "master..sysdatabases", "sqlite_master",
    "sqlite_temp_master", "all_tables", "all_tab_columns", "user_tables", "user_tab_columns",
    "dba_users", "dba_tables", "v$version", "msysobjects", "msysaccessobjects",
)
SQL_SHAPES = (
    r"union[\s/*]+(all[\s/*]+)?select[\s/*]+", r"union[\s/*]+(all[\s/*]+)?select[\s/*]+null",
    r"'\s*or\s+'?\d+'?\s*=\s*'?\d+", r"'\s*and\s+'?\d+'?\s*=\s*'?\d+", r"'\s*or\s+'[^']*'\s*=\s*'",
    r"order\s+by\s+\d+\s*(--|#)", r"having\s+\d+\s*=\s*\d+", r"group\s+by\s+.{1,40}having\b",
    r";\s*(drop|truncate|alter)\s+table\b", r";\s*(delete\s+from|insert\s+into)\s",
    r"into\s+(out|dump)file\s*'", r"waitfor\s+delay\s+'\d", r";\s*shutdown\s*(--|#)",
    r"'\s*;\s*exec(ute)?\s", r"select\s+@@version", r"select\s+user\s*\(\s*\)",
    r"'\s*\|\|\s*'", r"/\*!\d{5}", r"\bexec\s+master\.", r"declare\s+@\w+\s+(n?varchar|int)",
    r"case\s+when\s*\(.{1,60}\)\s*then", r"if\s*\(\s*\d+\s*=\s*\d+\s*,\s*sleep",
    r"procedure\s+analyse\s*\(", r"like\s+'%'\s*(--|#)", r"admin'\s*(--|#)",
)
XSS_TAGS = (
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "img", "body",
    "video", "audio", "marquee", "details", "meta", "link", "style", "base", "form", "input",
    "isindex", "math", "bgsound", "layer", "ilayer", "xml", "template", "textarea", "button",
    "keygen", "source", "track", "image", "animate", "set", "foreignobject",
)
XSS_EVENTS = (
    "onload", "onerror", "onmouseover", "onfocus", "onblur", "onclick", "onmouseout", "onstart",
    "onfinish", "ontoggle", "onanimationstart", "onbegin", "onpageshow", "onhashchange",
    "onresize", "onscroll", "onpointerover", "onkeydown", "onkeyup", "oninput", "onchange",
    "onsubmit", "onreset", "onselect", "onunload", "onbeforeunload", "onwheel", "oncopy",
    "onpaste", "oncut", "ondrag", "ondrop", "onmessage", "onpopstate", "onstorage",
    "onauxclick", "ondblclick", "oncontextmenu", "onmousedown", "onmouseup", "onmouseenter",
    "onmouseleave", "onpointerdown", "ontransitionend", "onsearch", "onshow", "oninvalid",
)
JS_SINKS = (
    r"document\.cookie", r"document\.write\s*\(", r"document\.location", r"window\.location",
    r"\beval\s*\(", r"settimeout\s*\(", r"setinterval\s*\(", r"string\.fromcharcode",
    r"\balert\s*\(", r"\bprompt\s*\(", r"\bconfirm\s*\(", r"\batob\s*\(", r"\.innerhtml\s*=",
    r"\.outerhtml\s*=", r"constructor\s*\(", r"importscripts\s*\(", r"xmlhttprequest",
    r"location\.hash", r"document\.domain", r"\.srcdoc\s*=", r"top\[", r"self\[",
    r"javascript\s*:", r"vbscript\s*:", r"livescript\s*:", r"data\s*:\s*text/html",
    r"expression\s*\(", r"-moz-binding", r"behavior\s*:\s*url", r"@import\s",
)
FILES = (
    "etc/passwd", "etc/shadow", "etc/group", "etc/hosts", "etc/issue", "etc/motd",
    "etc/crontab", "etc/fstab", "etc/sudoers", "etc/mysql/my.cnf", "etc/httpd/conf/httpd.conf",
    "etc/apache2/apache2.conf", "etc/nginx/nginx.conf", "etc/php.ini", "etc/ssh/sshd_config",
    "proc/self/environ", "proc/self/cmdline", "proc/self/fd", "proc/version", "proc/cpuinfo",
    "var/log/apache2/access.log", "var/log/apache2/error.log", "var/log/auth.log",
    "var/log/secure", "var/mail/root", "root/.bash_history", "root/.ssh/id_rsa",
    "home/[^/]+/.ssh/authorized_keys", "boot.ini", "windows/win.ini", "windows/system.ini",
    "windows/system32/drivers/etc/hosts", "windows/repair/sam", "inetpub/wwwroot/web.config",
    "wp-config.php", "config.inc.php", "configuration.php", "localsettings.php", ".env",
    ".git/config", ".git/head", ".svn/entries", ".htpasswd", ".htaccess", "web.config",
    "settings.py", "database.yml", "id_dsa", "known_hosts", ".aws/credentials",
)
WRAPPERS = (
    "php://filter", "php://input", "php://memory", "expect://", "zip://", "phar://", "data://",
    "file://", "glob://", "compress.zlib://", "compress.bzip2://", "gopher://", "dict://",
    "ldap://", "jar:", "netdoc:", "ogg://", "rar://", "ssh2.shell://", "ssh2.exec://",
)
COMMANDS = (
    "id", "uname", "whoami", "cat", "ls", "wget", "curl", "nc", "ncat", "netcat", "bash", "sh",
    "zsh", "ksh", "python", "python3", "perl", "ruby", "php", "telnet", "tftp", "chmod",
    "chown", "rm", "mkfifo", "nslookup", "dig", "ping", "ifconfig", "ps", "kill", "pkill",
    "crontab", "useradd", "passwd", "sudo", "base64", "xxd", "awk", "sed", "find", "printf",
    "env", "lynx", "socat", "openssl", "gcc", "tar", "unzip", "gzip", "dd", "nohup", "screen",
    "tmux", "whois", "traceroute", "netstat", "lsof", "systemctl", "iptables", "nmap",
    "hostname", "shutdown", "reboot", "killall", "head", "tail", "more", "less", "strings",
    "od", "hexdump", "cmd", "powershell", "certutil", "bitsadmin", "mshta", "rundll32",
    "regsvr32", "wmic", "cscript", "wscript", "net user", "tasklist", "taskkill", "systeminfo",
)
SEPARATORS = (r";\s*", r"\|\s*", r"\|\|\s*", r"&&\s*", r"`\s*", r"\$\(\s*", r"\n\s*")
PHP_FUNCTIONS = (
    "system", "exec", "passthru", "shell_exec", "popen", "proc_open", "pcntl_exec", "assert",
    "create_function", "call_user_func", "call_user_func_array", "preg_replace",
    "base64_decode", "gzinflate", "gzuncompress", "str_rot13", "file_get_contents",
    "file_put_contents", "fopen", "fwrite", "fputs", "phpinfo", "move_uploaded_file",
    "unserialize", "highlight_file", "show_source", "parse_ini_file", "readfile",
    "array_map", "usort", "register_shutdown_function", "ini_set", "set_time_limit",
    "dl", "symlink", "chgrp", "posix_kill", "posix_setuid", "mail", "putenv", "apache_setenv",
)
SCANNERS = (
    "nikto", "sqlmap", "nmap scripting engine", "nessus", "acunetix", "w3af", "dirbuster",
    "gobuster", "wfuzz", "masscan", "zgrab", "nuclei", "havij", "netsparker", "appscan",
    "webinspect", "paros", "arachni", "skipfish", "whatweb", "wpscan", "joomscan", "openvas",
    "zmeu", "morfeus", "jbrofuzz", "brutus", "hydra", "commix", "xsser", "grabber", "webshag",
    "fimap", "bsqlbf", "pangolin", "absinthe", "metis", "sf-scanner", "dotdotpwn", "nsauditor",
    "webvulnscan", "netlab360", "zollard", "blackwidow", "floodgate", "httrack", "webcopier",
)
ENCODINGS = (
    r"%u[0-9a-f]{4}", r"\\x[0-9a-f]{2}\\x[0-9a-f]{2}", r"&#x?[0-9a-f]{2,6};?.{0,8}&#x?[0-9a-f]",
    r"\\u00[0-9a-f]{2}", r"\xc0\xaf", r"\xc1\x9c", r"\xe0\x80\xaf", r"%(2e|2f|5c|25)",
    r"\x00", r"\\0{1,3}[0-7]{2}", r"=\?utf-8\?[bq]\?", r"\+adw-", r"\+ad4-", r"%[0-9a-f]%",
    r"\\\\\.\\pipe\\", r"\.\.[/\\]{2,}", r"[/\\]\.\.[/\\]\.\.[/\\]", r"\.\.%c0%af",
    r"\.\.;/", r"/\.\.\./", r"\\\.\.\\", r"%2e%2e",
)
JAVA_TEMPLATE = (
    r"\$\{jndi:(ldap|rmi|dns|iiop|corba|nds|http)s?:", r"\$\{(lower|upper|env|sys|java):",
    r"\{\{\s*\d+\s*\*\s*\d+\s*\}\}", r"\$\{\s*\d+\s*\*\s*\d+\s*\}", r"<%=\s*\d+\s*\*\s*\d+",
    r"__import__\s*\(", r"java\.lang\.runtime", r"getruntime\s*\(\s*\)\s*\.\s*exec",
    r"class\.module\.classloader", r"processbuilder\s*\(", r"\.getclass\s*\(\s*\)\.forname",
    r"ognl\.ognlcontext", r"#_memberaccess", r"@java\.lang\.", r"freemarker\.template\.utility",
    r"\{\{\s*config\.", r"\{\{\s*self\._", r"\{\{\s*request\.application", r"__globals__",
    r"__builtins__", r"__subclasses__\s*\(", r"os\.popen\s*\(", r"subprocess\.",
)


@dataclass(frozen=True)
class GeneratedRule:
    """One signature: its family, the variables it reads, and its pattern."""

    family: str
    targets: str
    pattern: str

    def secfilter(self, rule_id: int) -> str:
        return " ".join(("SecFilterSelective", quote_argument(self.targets),
                         quote_argument(self.pattern),
                         quote_argument(f"id:{rule_id},msg:'{self.family}'")))

    def secrule(self, rule_id: int) -> str:
        """The mod_security2 rule that tests the same values the same way."""
        targets = (self.targets.replace("HEADERS_VALUES", "REQUEST_HEADERS")
                   .replace("HTTP_User-Agent", "REQUEST_HEADERS:User-Agent"))
        actions = (f"id:{rule_id},phase:2,deny,status:403,log,msg:'{self.family}',"
                   + SECRULE_TRANSFORMS)
        # mod_security2 reads a leading "@" as an operator name (@java... -> "Failed to
        # resolve operator"): such a pattern needs its operator written out.
        operator = f"@rx {self.pattern}" if self.pattern.startswith("@") else self.pattern
        return " ".join(("SecRule", targets, quote_argument(operator),
                         quote_argument(actions)))


def _esc(word: str) -> str:
    """A word as a regex: dots and other metacharacters escaped, spaces as ``\\s+``."""
    return re.escape(word).replace(r"\ ", r"\s+").replace(r"\[\^/\]\+", "[^/]+")


def _families() -> dict[str, list[tuple[str, str]]]:
    """Every candidate (targets, pattern), by family, in a fixed order."""
    t = MAIN_TARGETS
    fams: dict[str, list[tuple[str, str]]] = {
        "sql function": [(t, rf"\b{_esc(f)}\s*\(") for f in SQL_FUNCTIONS]
        + [(t, rf"select\s+{_esc(f)}\s*\(") for f in SQL_FUNCTIONS],
        "sql table": [(t, rf"from\s+{_esc(x)}\b") for x in SQL_TABLES]
        + [(t, rf"select\b.{{1,100}}\bfrom\s+{_esc(x)}") for x in SQL_TABLES],
        "sql shape": [(t, s) for s in SQL_SHAPES],
        "xss tag": [(t, rf"<{tag}\b") for tag in XSS_TAGS]
        + [(t, rf"<{tag}[^>]*\b{ev}\s*=") for tag in XSS_TAGS for ev in XSS_EVENTS],
        "xss attribute": [(t, rf"['\x22\s/]{ev}\s*=") for ev in XSS_EVENTS],
        "xss sink": [(t, s) for s in JS_SINKS],
        "file inclusion": [(t, rf"/{_esc(f)}") for f in FILES]
        + [(t, rf"(\.\./)+{_esc(f)}") for f in FILES]
        + [("REQUEST_URI|ARGS", rf"\.\./.*{_esc(f)}$") for f in FILES],
        "php wrapper": [(t, _esc(w)) for w in WRAPPERS]
        + [(t, rf"^{_esc(w)}") for w in WRAPPERS],
        "command injection": [(t, rf"{sep}{_esc(c)}\b") for sep in SEPARATORS for c in COMMANDS],
        "command and file": [(t, rf"\b{_esc(c)}\s+.{{0,30}}{_esc(f)}")
                             for c in COMMANDS for f in FILES],
        "command path": [(t, rf"/(usr/)?s?bin/{_esc(c)}\b") for c in COMMANDS],
        "php code": [(t, rf"\b{_esc(f)}\s*\(") for f in PHP_FUNCTIONS]
        + [(t, rf"{_esc(f)}\s*\(\s*\$_(get|post|request|cookie|server)") for f in PHP_FUNCTIONS]
        + [(t, rf"<\?(php)?\s+{_esc(f)}") for f in PHP_FUNCTIONS],
        "scanner": [("HTTP_User-Agent", _esc(s)) for s in SCANNERS]
        + [("HEADERS_VALUES", rf"\b{_esc(s)}/\d") for s in SCANNERS],
        "encoding": [(t, s) for s in ENCODINGS],
        "template and code": [(t, s) for s in JAVA_TEMPLATE],
    }
    return fams


def _interleave(families: dict[str, list[tuple[str, str]]], seed: int
                ) -> Iterator[GeneratedRule]:
    """Families in turn, each in its own shuffled order, so any prefix is a mix."""
    rng = random.Random(seed)
    queues = []
    for name, items in families.items():
        items = list(dict.fromkeys(items))
        rng.shuffle(items)
        queues.append((name, iter(items)))
    while queues:
        alive = []
        for name, queue in queues:
            item = next(queue, None)
            if item is not None:
                alive.append((name, queue))
                yield GeneratedRule(name, *item)
        queues = alive


def benign_values() -> list[str]:
    """Every value a rule could test in the benign workloads, normalised."""
    from apache_secfilter.cli.workloads import benign  # noqa: PLC0415
    from apache_secfilter.engine.evaluate import simple_targets
    values: list[str] = []
    for work in benign():
        view = _finished_view(work)
        values += [view.args_string(), view.request_uri, view.the_request, view.query_string]
        values += [v for _, v in view.headers] + [p.value for p in view.params]
        values += [t.value for t in simple_targets(view)]
    return values


def _finished_view(work):  # noqa: ANN001, ANN202 - RequestView after the body was read
    import time
    from datetime import UTC, datetime

    from apache_secfilter import Clocks, Transaction
    from apache_secfilter.policy.model import Policy, Settings
    policy = Policy(Settings(engine="On", scan_post=True), ())
    tx = Transaction(policy, work.request, Clocks(datetime(2024, 1, 2, tzinfo=UTC),
                                                  time.monotonic))
    if tx.wants_body:
        tx.feed_body(work.body)
    tx.finish_request()
    return tx.view


def generate(count: int, seed: int = 1) -> list[GeneratedRule]:
    """``count`` distinct signatures, none matching a benign workload."""
    flags = regex.IGNORECASE | regex.DOTALL | regex.V0
    values = benign_values()
    out: list[GeneratedRule] = []
    for rule in _interleave(_families(), seed):
        compiled = regex.compile(rule.pattern, flags)
        if any(compiled.search(v) for v in values):
            continue
        out.append(rule)
        if len(out) == count:
            return out
    raise ValueError(f"only {len(out)} signatures available, {count} asked")


def rules_text(count: int, seed: int = 1, secrule: bool = False, first_id: int = 100000) -> str:
    """A whole rules file: engine settings and ``count`` signatures."""
    head = ["SecFilterEngine On", "SecFilterScanPOST On", "SecFilterCheckURLEncoding On",
            'SecFilterDefaultAction "deny,log,status:403"']
    if secrule:
        head = ["SecRuleEngine On", "SecRequestBodyAccess On"]
    rules = generate(count, seed)
    lines = [r.secrule(first_id + i) if secrule else r.secfilter(first_id + i)
             for i, r in enumerate(rules)]
    return "\n".join(head + lines) + "\n"


def seed_text() -> str:
    """The article's configuration without its log files (which need a writable path)."""
    lines = DEMO.read_text().splitlines()
    keep = [ln for ln in lines if not ln.startswith(("SecAuditLog", "SecFilterDebugLog"))]
    return "\n".join(keep) + "\n"


#: ARGS values are URL-decoded already: decoding them again would test other text.
ARGS_TRANSFORMS = "t:none,t:replaceNulls,t:normalisePath,t:lowercase"


def _seed_rule(rule_id: int, targets: str, operator: str, transforms: str) -> str:
    """One translated seed rule: the article's default action, deny with 500."""
    actions = f"id:{rule_id},phase:2,deny,status:500,log,{transforms}"
    return " ".join(("SecRule", targets, quote_argument(operator), quote_argument(actions)))


def _seed_setting(directive: str, value: str) -> str | None:
    """The mod_security2 setting for a 1.x option of the seed, or None when it needs none.

    Unknown directives raise: if demo.conf grows, the translation must be
    extended by hand rather than silently compare different rule sets.
    """
    if directive == "SecFilterEngine":
        return f"SecRuleEngine {value}"
    if directive == "SecFilterScanPOST":
        return f"SecRequestBodyAccess {value}"
    if directive == "SecFilterDefaultAction" and value == '"deny,log,status:500"':
        return None  # written into every translated rule
    if directive in SEED_SILENT_OPTIONS:
        return None
    raise ValueError(f"no mod_security2 translation for {directive} {value}")


def _seed_rule_for(directive: str, rest: str, rule_id: int) -> str | None:
    """The SecRule for a 1.x rule (or check) of the seed; None when it is not one."""
    if directive == "SecFilter":
        return _seed_rule(rule_id, SIMPLE_TARGETS, rest, SECRULE_TRANSFORMS)
    if directive == "SecFilterSelective":
        variable, pattern = rest.split(None, 1)
        if not variable.startswith("ARG_"):
            raise ValueError(f"no mod_security2 translation for {directive} {rest}")
        return _seed_rule(rule_id, f"ARGS:{variable[4:]}", pattern, ARGS_TRANSFORMS)
    if directive == "SecFilterCheckURLEncoding" and rest == "On":
        return _seed_rule(rule_id, SIMPLE_TARGETS, "@validateUrlEncoding", "t:none")
    return None


def seed_secrule_text(first_id: int = 900001) -> str:
    """The seed configuration as mod_security2 SecRules (for the in-Apache comparison)."""
    settings: list[str] = []
    rules: list[str] = []
    for line in seed_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        directive, _, rest = line.partition(" ")
        rest = rest.strip()
        rule = _seed_rule_for(directive, rest, first_id + len(rules))
        if rule:
            rules.append(rule)
        elif directive != "SecFilterCheckURLEncoding":
            setting = _seed_setting(directive, rest)
            settings += [setting] if setting else []
    head = ["# The seed article's configuration (demo.conf), translated by benchmarks/ruleset.py"]
    return "\n".join(head + settings + rules) + "\n"


def text_for(size: str, secrule: bool = False) -> str:
    """The rules file for a benchmark size: ``seed`` or a count of signatures."""
    if size == "seed":
        return seed_secrule_text() if secrule else seed_text()
    return rules_text(int(size), secrule=secrule)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", help="a number of signatures, or 'seed' for demo.conf")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--secrule", action="store_true", help="mod_security2 SecRule form")
    args = parser.parse_args()
    if args.count == "seed":
        print(text_for("seed", args.secrule), end="")
    else:
        print(rules_text(int(args.count), args.seed, args.secrule), end="")


if __name__ == "__main__":
    main()
