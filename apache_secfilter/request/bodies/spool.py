"""A request body (or one uploaded file) in memory, then in a temporary file.

1.9 kept bodies in memory up to ``SecUploadInMemoryLimit`` and spilled the
rest to ``SecUploadDir`` (decisions R3); a firewall must not hold a 100 MB
upload in an Apache child's memory.  The file is created exclusively with mode
0600 (uploads are private data) under the 1.x name
``<prefix>-request_body-XXXXXX``, where the caller's prefix carries the
``YYYYMMDD-HHMMSS-<client>`` part, so that this module reads no clock.

Failures to create or write the file are ``RequestError`` with status 500 and
the 1.x wording (``Failed to create file "…" because 13("Permission denied")``):
the request is denied rather than let through uninspected.
"""

from __future__ import annotations

import os
import secrets
import string
import tempfile
from typing import BinaryIO

from apache_secfilter.errors import RequestError

__all__ = ["BodySpool", "can_spill"]

#: Characters of the random ``XXXXXX`` suffix (as APR's ``apr_file_mktemp``).
_SUFFIX_CHARS = string.ascii_letters + string.digits
#: Random bytes to those characters in one C call (byte mod 62: unpredictable
#: enough for a name that is created exclusively, O_EXCL, anyway).
_SUFFIX_TABLE = bytes(ord(_SUFFIX_CHARS[b % len(_SUFFIX_CHARS)]) for b in range(256))
_ATTEMPTS = 100
_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _os_failure(action: str, path: str, exc: OSError) -> RequestError:
    """The 1.x message for a failed file operation, as a 500 ``RequestError``."""
    return RequestError(
        f'Failed to {action} file "{path}" because {exc.errno}("{exc.strerror}")',
        http_status=500,
    )


def _safe_prefix(prefix: str) -> str:
    """Keep the prefix inside the directory: no separators, no NUL."""
    return prefix.replace("/", "_").replace("\\", "_").replace("\0", "_")


def _immutable(chunk: bytes | memoryview) -> bool:
    return type(chunk) is bytes or (isinstance(chunk, memoryview) and chunk.readonly
                                    and type(chunk.obj) is bytes)


def can_spill(directory: str | None) -> bool:
    """Whether this process may create a spill file in ``directory`` (None: the
    system temporary directory), asked without creating one.

    For callers that judge a body in memory but must still refuse it where
    spilling it would have failed (decisions R3: a body file that cannot be
    created denies the request).
    """
    return os.access(directory or tempfile.gettempdir(), os.W_OK | os.X_OK)


class BodySpool:
    """Bytes written in order, kept in memory up to ``in_memory_limit`` bytes.

    When ``size`` would exceed the limit, everything so far moves to a file in
    ``directory`` (the system temporary directory when ``None``) and later
    writes go there.  ``close()`` deletes that file unless ``keep()`` was
    called.  Use as a context manager to be sure it is closed.
    """

    def __init__(
        self, in_memory_limit: int, directory: str | None = None, prefix: str = ""
    ) -> None:
        self._limit = in_memory_limit
        self._directory = directory
        self._prefix = _safe_prefix(prefix)
        #: the content while in memory: the chunks as written (no copy per write)
        self._memory: list[bytes | memoryview] = []
        self._file: BinaryIO | None = None
        self._path: str | None = None
        self._size = 0
        self._kept = False
        self._closed = False

    def __enter__(self) -> BodySpool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self._path or "memory"
        return f"<BodySpool {self._size} bytes in {where}>"

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._size

    @property
    def path(self) -> str | None:
        """The temporary file, or ``None`` while the content is in memory."""
        return self._path

    @property
    def kept(self) -> bool:
        """True once ``keep()`` was called: ``close()`` leaves the file."""
        return self._kept

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, chunk: bytes | memoryview) -> None:
        """Append ``chunk``; spill to a file when the memory limit is passed.

        Kept as given while in memory: ``bytes``, or a view of ``bytes`` (both
        never change); anything else is copied.
        """
        self._check_open()
        if not chunk:
            return
        if self._file is None and self._size + len(chunk) > self._limit:
            self._spill()
        if self._file is None:
            self._memory.append(chunk if _immutable(chunk) else bytes(chunk))
        else:
            self._write_file(chunk)
        self._size += len(chunk)

    def getvalue(self) -> bytes:
        """The whole content, read back from the file when it was spilled."""
        self._check_open()
        if self._file is None:
            return b"".join(self._memory)  # one chunk of bytes: itself, no copy
        try:
            self._file.flush()
            self._file.seek(0)
            data = self._file.read()
            self._file.seek(0, os.SEEK_END)
        except OSError as exc:
            raise _os_failure("read", self._path or "", exc) from exc
        return data

    def materialise(self) -> str:
        """Make sure the content is in a file (e.g. for an approval script); return its path."""
        self._check_open()
        if self._file is None:
            self._spill()
        assert self._file is not None and self._path is not None
        try:
            self._file.flush()
        except OSError as exc:
            raise _os_failure("write to", self._path, exc) from exc
        return self._path

    def keep(self) -> None:
        """Leave the file in place at ``close()`` (``SecUploadKeepFiles``).

        Only a file is kept: content still in memory has nothing to keep, so
        call ``materialise()`` first when the content must survive.
        """
        self._kept = True

    def close(self) -> None:
        """Release memory and the file handle; delete the file unless kept.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._memory = []
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._path is not None and not self._kept:
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise _os_failure("remove", self._path, exc) from exc

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("BodySpool is closed")

    def _spill(self) -> None:
        """Move the in-memory content to a new temporary file."""
        self._path, self._file = self._create_file()
        for chunk in self._memory:
            self._write_file(chunk)
        self._memory = []

    def _write_file(self, chunk: bytes | memoryview) -> None:
        assert self._file is not None
        try:
            self._file.write(chunk)
        except OSError as exc:
            raise _os_failure("write to", self._path or "", exc) from exc

    def _create_file(self) -> tuple[str, BinaryIO]:
        """Create ``<dir>/<prefix>-request_body-XXXXXX`` exclusively, mode 0600."""
        directory = self._directory or tempfile.gettempdir()
        stem = f"{self._prefix}-request_body-" if self._prefix else "request_body-"
        last: OSError | None = None
        path = os.path.join(directory, stem + "XXXXXX")
        for _ in range(_ATTEMPTS):
            suffix = secrets.token_bytes(6).translate(_SUFFIX_TABLE).decode("ascii")
            path = os.path.join(directory, stem + suffix)
            try:
                fd = os.open(path, _FLAGS, 0o600)
            except FileExistsError as exc:
                last = exc
                continue
            except OSError as exc:
                raise _os_failure("create", path, exc) from exc
            return path, os.fdopen(fd, "w+b")
        assert last is not None
        raise _os_failure("create", path, last)
