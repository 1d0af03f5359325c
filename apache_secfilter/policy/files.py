"""Configuration-time checks of the files a policy names (programs, logs, dirs).

Kept apart so that the compiler stays testable: tests may pass a FileChecks
that looks at a temporary directory.  Nothing here runs per request.
"""

from __future__ import annotations

import os


class FileChecks:
    """Answers "is this usable?" about paths named in a configuration.

    Each method returns ``None`` when the path is fine, or a sentence saying
    what is wrong with it.
    """

    def executable_problem(self, path: str) -> str | None:
        if not os.path.isabs(path):
            return f"'{path}' is not an absolute path to a program"
        if os.path.isdir(path):
            return f"'{path}' is a directory, not a program"
        if not os.path.isfile(path):
            return f"'{path}' does not exist"
        if not os.access(path, os.X_OK):
            return f"'{path}' is not executable"
        return None

    def writable_file_problem(self, path: str) -> str | None:
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            return f"the directory of '{path}' does not exist on this machine"
        return None

    def directory_problem(self, path: str) -> str | None:
        if not os.path.isdir(path):
            return f"the directory '{path}' does not exist on this machine"
        return None
