"""Find ``.htaccess`` files that hold Sec* lines, to say they are not applied (L12, L20).

apache_secfilter never reads ``.htaccess``: a site owner, or a web shell
dropped into an upload directory, could switch the firewall off there.  1.x
users did put ``SecFilterEngine Off`` in such files, so silence would leave
them believing a rule is relaxed (or enforced) when it is not.  The walk is
bounded, follows no symbolic links and reads only the start of each file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from ..errors import ConfigWarning, Location

MAX_DIRECTORIES = 20_000
MAX_BYTES = 256 * 1024
_SEC_LINE = re.compile(rb"^[ \t]*(Sec[A-Za-z]+)", re.IGNORECASE | re.MULTILINE)


def _first_sec_line(path: str) -> tuple[int, str] | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES)
    except OSError:
        return None
    match = _SEC_LINE.search(data)
    if match is None:
        return None
    return data.count(b"\n", 0, match.start()) + 1, match.group(1).decode("latin-1")


def htaccess_warnings(roots: Iterable[str], names: Iterable[str] = (".htaccess",),
                      max_directories: int = MAX_DIRECTORIES) -> list[ConfigWarning]:
    """One warning per access file below ``roots`` whose text holds a Sec* directive."""
    wanted = set(names)
    warnings: list[ConfigWarning] = []
    seen = 0
    for root in roots:
        for directory, subdirs, files in os.walk(root):
            subdirs.sort()
            seen += 1
            if seen > max_directories:
                warnings.append(ConfigWarning(
                    f"stopped looking for .htaccess files with Sec* lines after "
                    f"{max_directories} directories (below {root})"))
                return warnings
            for name in sorted(wanted.intersection(files)):
                path = os.path.join(directory, name)
                found = _first_sec_line(path)
                if found:
                    warnings.append(ConfigWarning(
                        f"{found[1]} in {name} is not applied: apache_secfilter does not read "
                        f"{name} files (a site owner or a web shell could switch the filter "
                        "off there); move the directive into a <Directory> section of the "
                        "Apache configuration", Location(path, found[0])))
    return warnings
