"""Can another account (Apache's ``www-data``) read a path?

Apache refuses to run its children as root, so an instance started by root
serves files as ``www-data``.  A document root or rules file under a private
directory (a home directory, pytest's 0700 temporary tree) would then fail
with a bare 403 or a filter that cannot load its rules; checking first gives
the user a sentence that names the directory in the way.

Only the classic mode bits are read (owner, group incl. supplementary
groups, others); ACLs and security modules are not consulted.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass

READ, WRITE, EXECUTE = 4, 2, 1


@dataclass(frozen=True)
class Account:
    """A user with the groups its processes get."""

    name: str
    uid: int
    groups: frozenset[int]

    @classmethod
    def named(cls, name: str) -> Account:
        entry = pwd.getpwnam(name)
        groups = set(os.getgrouplist(name, entry.pw_gid))
        groups.update(g.gr_gid for g in grp.getgrall() if name in g.gr_mem)
        return cls(name, entry.pw_uid, frozenset(groups))


def allowed(account: Account, st: os.stat_result, want: int) -> bool:
    """Whether the mode bits grant ``want`` (READ|EXECUTE...) to the account."""
    if account.uid == 0:
        return True
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid == account.uid:
        bits = mode >> 6
    elif st.st_gid in account.groups:
        bits = mode >> 3
    else:
        bits = mode
    return bits & want == want


def _ancestors(path: str) -> list[str]:
    parents = []
    current = os.path.dirname(path)
    while True:
        parents.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return list(reversed(parents))


def read_problem(user: str, path: str, directory: bool = False) -> str | None:
    """Why ``user`` cannot read ``path`` (list it, if a directory), or None."""
    try:
        account = Account.named(user)
    except KeyError:
        return f"the user '{user}' does not exist"
    real = os.path.realpath(path)
    for parent in _ancestors(real):
        try:
            if not allowed(account, os.stat(parent), EXECUTE):
                return f"'{parent}' (mode {_mode(parent)}) does not let {user} pass through"
        except OSError as exc:
            return f"'{parent}': {exc.strerror}"
    want = READ | EXECUTE if directory else READ
    try:
        if not allowed(account, os.stat(real), want):
            return f"'{real}' (mode {_mode(real)}) is not readable by {user}"
    except OSError as exc:
        return f"'{real}': {exc.strerror}"
    return None


def _mode(path: str) -> str:
    try:
        return oct(stat.S_IMODE(os.stat(path).st_mode))[2:].zfill(4)
    except OSError:
        return "?"
