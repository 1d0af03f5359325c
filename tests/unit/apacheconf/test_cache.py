"""The compiled-policy cache: a hit gives the same verdicts, any change is a miss."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from apache_secfilter import Request, inspect
from apache_secfilter.adapters import common
from apache_secfilter.adapters.common import PolicyCache
from apache_secfilter.apacheconf import cache
from apache_secfilter.apacheconf.source import load_source

RULES = """SecFilterEngine On
SecFilterDefaultAction "deny,log,status:403"
Include conf.d/*.conf
"""
MORE = 'SecFilterSelective ARG_q "union\\s+select" "id:2"\n'
APACHE = """ServerRoot {root}
<IfModule secfilter_module>
SecFilterEngine On
SecFilter /etc/passwd
</IfModule>
<VirtualHost *:80>
ServerName a.test
<IfModule secfilter_module>
<Location /admin>
SecFilter "drop table"
</Location>
</IfModule>
</VirtualHost>
"""
REQUESTS = [Request("GET", "/?q=union select 1", "HTTP/1.1", (("Host", "a.test"),)),
            Request("GET", "/x?f=/etc/passwd", "HTTP/1.1", (("Host", "a.test"),)),
            Request("GET", "/admin/?q=drop table", "HTTP/1.1", (("Host", "a.test"),)),
            Request("GET", "/plain", "HTTP/1.1", (("Host", "a.test"),))]


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text(MORE)
    path = tmp_path / "rules.conf"
    path.write_text(RULES.replace("conf.d", str(tmp_path / "conf.d")))
    return path


def verdicts(source) -> list[str]:  # noqa: ANN001
    return [inspect(source.policy_for(r), r).action + str(inspect(source.policy_for(r), r).status)
            for r in REQUESTS]


def stored(directory: Path, path: Path):  # noqa: ANN201
    source = load_source(str(path))
    common.prepare(source)
    cache.write(str(directory), str(path), source)
    return source


def test_a_hit_gives_the_same_verdicts(rules: Path, tmp_path: Path) -> None:
    source = stored(tmp_path / "cache", rules)
    again = cache.read(str(tmp_path / "cache"), str(rules))
    assert again is not None and again is not source
    assert verdicts(again) == verdicts(source) == ["deny403"] + ["passNone"] * 3
    assert again.flat_policy.derived.get("prefilter") is not None  # ready, not rebuilt


def test_an_apache_configuration_round_trips(tmp_path: Path) -> None:
    conf = tmp_path / "apache2.conf"
    conf.write_text(APACHE.format(root=tmp_path))
    source = stored(tmp_path / "cache", conf)
    again = cache.read(str(tmp_path / "cache"), str(conf))
    assert again is not None and verdicts(again) == verdicts(source)
    assert verdicts(again)[1:3] == ["deny403", "deny403"]


@pytest.mark.parametrize("change", ["edit included", "edit main", "new file", "version"])
def test_any_change_is_a_miss(change: str, rules: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    stored(tmp_path / "cache", rules)
    if change == "edit included":
        (tmp_path / "conf.d" / "a.conf").write_text(MORE.replace("union", "onion"))
    elif change == "edit main":
        rules.write_text(rules.read_text() + "SecFilter x\n")
    elif change == "new file":
        (tmp_path / "conf.d" / "b.conf").write_text("SecFilter y\n")
    else:
        monkeypatch.setattr(cache, "FORMAT", cache.FORMAT + 1)
    assert cache.read(str(tmp_path / "cache"), str(rules)) is None


def test_damaged_or_foreign_entries_are_misses(rules: Path, tmp_path: Path) -> None:
    stored(tmp_path / "cache", rules)
    entry = Path(cache.entry_path(str(tmp_path / "cache"), str(rules)))
    entry.chmod(0o666)  # others could have put code in it
    assert cache.read(str(tmp_path / "cache"), str(rules)) is None
    entry.chmod(0o600)
    entry.write_bytes(entry.read_bytes()[:100])
    assert cache.read(str(tmp_path / "cache"), str(rules)) is None
    assert cache.read(str(tmp_path / "nowhere"), str(rules)) is None


def test_the_hooks_cache_reads_what_an_earlier_process_wrote(
        rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = PolicyCache()
    first.cache_dir = str(tmp_path / "cache")
    assert first.get(str(rules)).source is not None

    def no_compiling(*_a: object, **_k: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(common, "load_source", no_compiling)
    second = PolicyCache()
    monkeypatch.setenv(common.CACHE_DIR_ENV, str(tmp_path / "cache"))
    loaded = second.get(str(rules))
    assert loaded.source is not None and loaded.quick is not None
    assert verdicts(loaded.source)[0] == "deny403"


def test_an_unwritable_cache_is_a_warning(rules: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    policies = PolicyCache()
    policies.cache_dir = str(blocker / "cache")  # below a file: cannot be created
    loaded = policies.get(str(rules))
    assert loaded.source is not None and loaded.error is None
    assert any("compiled-policy cache" in str(w) for w in loaded.source.warnings)


def _load_many(path: str, directory: str, rounds: int) -> int:
    hits = 0
    for _ in range(rounds):
        policies = PolicyCache()
        policies.cache_dir = directory
        source = policies.get(path).source
        assert source is not None and verdicts(source)[0] == "deny403"
        if cache.read(directory, path) is not None:
            hits += 1
        os.utime(path)  # content unchanged: still a hit
    return hits


def test_children_starting_together_never_read_half_an_entry(rules: Path,
                                                             tmp_path: Path) -> None:
    directory = str(tmp_path / "cache")
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        hits = pool.starmap(_load_many, [(str(rules), directory, 15)] * 4)
    assert sum(hits) == 60
    assert [n for n in os.listdir(directory) if n.startswith(".tmp-")] == []


def _start_child(path: str, directory: str, barrier) -> bool:  # noqa: ANN001
    policies = PolicyCache()
    policies.cache_dir = directory
    barrier.wait()  # as Apache's children do: all at once
    return policies.get(path).source is not None


def test_children_starting_together_compile_once(rules: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # not beside the rules: a file created in their directory while compiling
    # rightly keeps the entry from being stored (then every child compiles)
    (tmp_path / "marks").mkdir()
    marks = tmp_path / "marks" / "compiled"
    real = common._compiled

    def counted(path: str):  # noqa: ANN202
        with marks.open("a") as handle:
            handle.write("x\n")
        return real(path)

    monkeypatch.setattr(common, "_compiled", counted)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    procs = [context.Process(target=_start_child, args=(str(rules), str(tmp_path / "c"),
                                                        barrier)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert marks.read_text().count("x") == 1


def test_only_the_variables_a_configuration_names_count(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "apache2.conf"
    conf.write_text(APACHE.format(root=tmp_path).replace(
        "ServerName a.test", "ServerName ${SITE_NAME}"))
    monkeypatch.setenv("SITE_NAME", "a.test")
    stored(tmp_path / "cache", conf)
    monkeypatch.setenv("INVOCATION_ID", "a new one at every start")
    assert cache.read(str(tmp_path / "cache"), str(conf)) is not None
    monkeypatch.setenv("SITE_NAME", "b.test")
    assert cache.read(str(tmp_path / "cache"), str(conf)) is None


def test_a_changed_envvars_file_is_a_miss(tmp_path: Path) -> None:
    conf = tmp_path / "apache2.conf"
    conf.write_text(APACHE.format(root=tmp_path))
    (tmp_path / "envvars").write_text("export APACHE_RUN_USER=www-data\n")
    stored(tmp_path / "cache", conf)
    assert cache.read(str(tmp_path / "cache"), str(conf)) is not None
    (tmp_path / "envvars").write_text("export APACHE_RUN_USER=nobody\n")
    assert cache.read(str(tmp_path / "cache"), str(conf)) is None


def test_a_file_changed_while_compiling_is_not_stored(rules: Path, tmp_path: Path) -> None:
    import time

    source = load_source(str(rules))
    compiled_at = time.time()
    os.utime(rules, (compiled_at + 1, compiled_at + 1))  # edited after compiling began
    assert cache.write(str(tmp_path / "cache"), str(rules), source, compiled_at) is False
    assert cache.read(str(tmp_path / "cache"), str(rules)) is None
    assert cache.write(str(tmp_path / "cache"), str(rules), source, compiled_at + 2) is True
