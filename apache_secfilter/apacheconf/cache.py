"""The compiled-policy cache: an Apache child ready in a fraction of the compile time.

Loading a configuration of thousands of rules means parsing every line,
checking every pattern and building the prefilter; every Apache child does it
when it starts.  With a cache directory configured, the first process to
compile a configuration stores the result (``pickle``), and the next ones
read it back instead, as long as nothing it was made from has changed:

* every file it read, by content (SHA-256), and the names in each directory
  holding one (an ``Include conf.d/*.conf`` picks up new files);
* the environment variables an Apache configuration names (``${VAR}``);
* this package's, Python's and the ``regex`` module's versions.

Any difference, an unreadable or damaged entry, or an entry this process
could not have written itself (another owner, or writable by others: a
pickle runs code when read) and the configuration is compiled as usual, and
the entry rewritten.  Entries are written to a temporary file and renamed, so
children starting at the same time read either a whole old entry or a whole
new one.  The cache never changes a verdict: what it holds is the compiled
source the same files would give.
"""

from __future__ import annotations

import contextlib
import copyreg
import fcntl
import hashlib
import io
import os
import pickle
import re
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import MappingProxyType

import regex

from ..version import __version__
from .source import PolicySource
from .variables import ENVVARS

#: Changes whenever what is pickled changes shape.
FORMAT = 1
_SUFFIX = ".policy"


def read_only(mapping: dict) -> MappingProxyType:
    """Rebuilds a read-only mapping (pickle cannot name ``mappingproxy`` itself)."""
    return MappingProxyType(mapping)


def _reduce_proxy(proxy: MappingProxyType) -> tuple[object, tuple[dict]]:
    return read_only, (dict(proxy),)


class _Pickler(pickle.Pickler):
    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[MappingProxyType] = _reduce_proxy


@dataclass(frozen=True)
class Fingerprint:
    """What a compiled configuration was made from."""

    versions: tuple[str, ...]
    files: tuple[tuple[str, str], ...]  # (path, sha256 of content)
    listings: tuple[tuple[str, tuple[str, ...]], ...]  # (directory, sorted names)
    environ: str


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _listing(directory: str) -> tuple[str, ...]:
    try:
        return tuple(sorted(os.listdir(directory)))
    except OSError:
        return ()


_VARIABLE = re.compile(rb"\$\{([A-Za-z0-9_]+)\}")


def _environ_digest(contents: Iterable[bytes]) -> str:
    """The values of the environment variables the files name as ``${VAR}``.

    Only those: the rest of the environment changes between Apache starts
    (systemd's ``INVOCATION_ID``) without changing what the files say.
    """
    names = sorted({m.decode() for data in contents for m in _VARIABLE.findall(data)})
    items = "\0".join(f"{name}={os.environ.get(name, chr(0))}" for name in names)
    return hashlib.sha256(items.encode("utf-8", "surrogateescape")).hexdigest()


def fingerprint(files: Iterable[str], apache: bool) -> Fingerprint:
    """The fingerprint of these files as they are now."""
    paths = sorted({os.path.abspath(f) for f in files})
    contents = {p: _read(p) for p in paths}
    directories = sorted({os.path.dirname(p) for p in paths})
    versions = (str(FORMAT), __version__, sys.version, regex.__version__)
    digests = tuple((p, "unreadable" if data is None else hashlib.sha256(data).hexdigest())
                    for p, data in contents.items())
    environ = _environ_digest(d for d in contents.values() if d) if apache else ""
    return Fingerprint(versions, digests, tuple((d, _listing(d)) for d in directories),
                       environ)


def _inputs(source: PolicySource, config_path: str) -> list[str]:
    """Every file the configuration was made from; for an Apache configuration also
    Debian's ``envvars`` beside it, whose exports ``${VAR}`` falls back to."""
    files = list(source.files or (config_path,))
    if source.is_apache_config:
        files.append(os.path.join(os.path.dirname(os.path.abspath(config_path)), ENVVARS))
    return files


def entry_path(cache_dir: str, config_path: str) -> str:
    name = hashlib.sha256(os.path.abspath(config_path).encode()).hexdigest()[:32]
    return os.path.join(cache_dir, name + _SUFFIX)


def _trusted(handle: io.BufferedReader) -> bool:
    """Only an entry this process's user wrote, and no one else can change."""
    info = os.fstat(handle.fileno())
    return (stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def read(cache_dir: str, config_path: str) -> PolicySource | None:
    """The cached source of ``config_path`` if it is still what the files give."""
    try:
        with open(entry_path(cache_dir, config_path), "rb") as handle:
            if not _trusted(handle):
                return None
            stored, source = pickle.load(handle)
    except Exception:  # noqa: BLE001 - a missing or damaged entry is a miss
        return None
    if not isinstance(source, PolicySource) or not isinstance(stored, Fingerprint):
        return None
    if stored != fingerprint(_inputs(source, config_path), source.is_apache_config):
        return None
    return source


#: Longest wait for another process compiling the same configuration.
COMPILE_WAIT_S = 60.0


@contextlib.contextmanager
def compiling(cache_dir: str, config_path: str,
              wait_s: float = COMPILE_WAIT_S) -> Iterator[None]:
    """Hold the configuration's compile lock (``flock``) while compiling it.

    Apache starts all its children at once: without this, every one of them
    would find no entry and compile.  With it, one compiles and writes while
    the others wait, then read its entry.  A lock that cannot be taken (no
    directory, or a holder past ``wait_s``) just means compiling anyway.
    """
    handle = None
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        handle = open(entry_path(cache_dir, config_path) + ".lock", "ab")  # noqa: SIM115
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
    except OSError:
        pass
    try:
        yield
    finally:
        if handle is not None:
            handle.close()  # releases the lock


def _changed_since(paths: list[str], moment: float) -> bool:
    """Whether a file or its directory was modified at or after ``moment``."""
    places = {os.path.abspath(p) for p in paths}
    places |= {os.path.dirname(p) for p in places}
    for place in places:
        try:
            if os.stat(place).st_mtime >= moment:
                return True
        except OSError:
            continue
    return False


def write(cache_dir: str, config_path: str, source: PolicySource,
          compiled_at: float | None = None) -> bool:
    """Store ``source`` for the next process (atomically; errors propagate).

    ``compiled_at`` is when compiling began (``time.time()``): if a file was
    changed since, the fingerprint taken now could describe text the compile
    did not read, so nothing is stored (False).
    """
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)  # first: it may sit beside the rules
    inputs = _inputs(source, config_path)
    if compiled_at is not None and _changed_since(inputs, compiled_at):
        return False
    stored = fingerprint(inputs, source.is_apache_config)
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((stored, source))
    fd, temporary = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
        os.replace(temporary, entry_path(cache_dir, config_path))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return True
