"""Running external programs for the engine: upload approval and exec: (R4, R5).

Without a shell, with a bounded run time, output discarded (exec:) or read for
the verdict line (approval).  Failures are reported, never raised into Apache.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping


class ProgramRunner:
    """The engine's Services: approve uploads; adapters also use run_exec."""

    def __init__(self, log=None) -> None:  # noqa: ANN001 - log: Callable[[str], None]
        self.log = log or (lambda _message: None)

    def approve_upload(self, script: str, path: str, timeout: float) -> bool:
        """decisions R4: the first stdout line starting with ``1`` approves."""
        try:
            done = subprocess.run([script, path], capture_output=True, timeout=timeout,
                                  check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.log(f"mod_security: SecUploadApproveScript {script} failed: {exc}")
            return False
        first = done.stdout.splitlines()[0] if done.stdout else b""
        return done.returncode == 0 and first.startswith(b"1")

    def run_exec(self, program: str, env: Mapping[str, str], timeout: float) -> bool:
        """decisions R5: run synchronously with a CGI-like environment; True on success."""
        try:
            done = subprocess.run([program], env=dict(env), timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, cwd=os.path.dirname(program) or "/")
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.log(f"mod_security: exec {program} failed: {exc}")
            return False
        if done.returncode != 0:
            self.log(f"mod_security: exec {program} exited with status {done.returncode}")
        return done.returncode == 0
