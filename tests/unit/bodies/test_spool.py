"""BodySpool: memory first, then a private temporary file with the 1.x name."""

from __future__ import annotations

import os
import re
import stat
import tempfile

import pytest

from apache_secfilter.errors import RequestError
from apache_secfilter.request.bodies import BodySpool

PREFIX = "20260101-120000-10.0.0.1"
NAME = re.compile(r"20260101-120000-10\.0\.0\.1-request_body-[A-Za-z0-9]{6}")


def test_small_body_stays_in_memory(tmp_path) -> None:
    with BodySpool(10, str(tmp_path), PREFIX) as spool:
        spool.write(b"abc")
        spool.write(b"")
        spool.write(b"defghij")
        assert spool.size == 10 and spool.path is None
        assert spool.getvalue() == b"abcdefghij"
    assert os.listdir(tmp_path) == []


def test_spills_past_the_limit_with_1x_name_and_mode_0600(tmp_path) -> None:
    spool = BodySpool(10, str(tmp_path), PREFIX)
    spool.write(b"0123456789")
    assert spool.path is None
    spool.write(b"X")
    path = spool.path
    assert path is not None and os.path.dirname(path) == str(tmp_path)
    assert NAME.fullmatch(os.path.basename(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    spool.write(b"YZ")
    assert spool.size == 13 and spool.getvalue() == b"0123456789XYZ"
    spool.write(b"!")
    assert spool.getvalue() == b"0123456789XYZ!"
    with open(path, "rb") as handle:
        assert handle.read() == b"0123456789XYZ!"
    spool.close()
    assert not os.path.exists(path)


def test_one_big_write_spills(tmp_path) -> None:
    data = bytes(range(256)) * 100
    with BodySpool(1000, str(tmp_path), PREFIX) as spool:
        spool.write(data)
        assert spool.path is not None and spool.getvalue() == data


def test_keep_leaves_the_file(tmp_path) -> None:
    spool = BodySpool(1, str(tmp_path), PREFIX)
    spool.write(b"abc")
    spool.keep()
    assert spool.kept
    path = spool.path
    spool.close()
    assert path is not None
    with open(path, "rb") as handle:
        assert handle.read() == b"abc"


def test_materialise_writes_memory_content_to_a_file(tmp_path) -> None:
    spool = BodySpool(100, str(tmp_path), PREFIX)
    spool.write(b"virus?")
    path = spool.materialise()
    assert path == spool.path
    with open(path, "rb") as handle:
        assert handle.read() == b"virus?"
    assert spool.materialise() == path
    spool.write(b"!")
    assert spool.getvalue() == b"virus?!"
    spool.close()
    assert os.listdir(tmp_path) == []


def test_default_directory_is_the_system_temp_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with BodySpool(0, None, PREFIX) as spool:
        spool.write(b"x")
        assert spool.path is not None and os.path.dirname(spool.path) == str(tmp_path)


PREFIXES = {
    "empty": ("", re.compile(r"request_body-[A-Za-z0-9]{6}")),
    "separators_replaced": ("a/b\\c", re.compile(r"a_b_c-request_body-[A-Za-z0-9]{6}")),
    "traversal": ("../../etc", re.compile(r"\.\._\.\._etc-request_body-[A-Za-z0-9]{6}")),
}


@pytest.mark.parametrize("name", sorted(PREFIXES))
def test_prefix_stays_inside_the_directory(name: str, tmp_path) -> None:
    prefix, expected = PREFIXES[name]
    with BodySpool(0, str(tmp_path), prefix) as spool:
        path = spool.materialise()
        assert os.path.dirname(path) == str(tmp_path)
        assert expected.fullmatch(os.path.basename(path))


def test_unique_names(tmp_path) -> None:
    spools = [BodySpool(0, str(tmp_path), PREFIX) for _ in range(20)]
    paths = {spool.materialise() for spool in spools}
    assert len(paths) == 20
    for spool in spools:
        spool.close()
    assert os.listdir(tmp_path) == []


FAILURES = {
    "missing_directory": (lambda tmp: str(tmp / "missing"), 2, "No such file or directory"),
    "directory_is_a_file": (lambda tmp: _a_file(tmp), 20, "Not a directory"),
}


def _a_file(tmp) -> str:
    path = tmp / "plain"
    path.write_bytes(b"")
    return str(path)


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_creation_failure_is_a_500_with_the_1x_message(name: str, tmp_path) -> None:
    make_dir, errno, strerror = FAILURES[name]
    directory = make_dir(tmp_path)
    spool = BodySpool(2, directory, PREFIX)
    spool.write(b"ab")
    with pytest.raises(RequestError) as info:
        spool.write(b"c")
    assert info.value.http_status == 500
    pattern = (
        rf'Failed to create file "{re.escape(directory)}/{NAME.pattern}"'
        rf' because {errno}\("{strerror}"\)'
    )
    assert re.fullmatch(pattern, info.value.message), info.value.message
    spool.close()


def test_close_is_idempotent_and_final(tmp_path) -> None:
    spool = BodySpool(0, str(tmp_path), PREFIX)
    spool.write(b"x")
    spool.close()
    spool.close()
    assert spool.closed
    for call in (lambda: spool.write(b"y"), spool.getvalue, spool.materialise):
        with pytest.raises(ValueError):
            call()


def test_close_tolerates_a_file_already_removed(tmp_path) -> None:
    spool = BodySpool(0, str(tmp_path), PREFIX)
    os.unlink(spool.materialise())
    spool.close()


def test_repr_says_where() -> None:
    spool = BodySpool(10)
    spool.write(b"abc")
    assert repr(spool) == "<BodySpool 3 bytes in memory>"
