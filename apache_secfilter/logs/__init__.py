"""Log formats: audit entries (serial, native, JSON), index lines, debug lines.

Layer 4, pure: everything here turns data into bytes or text into data and
never touches a file (decisions G2-G5; ``adapters/sinks.py`` writes).

* ``AuditRecord`` (``record``): one finished transaction.
* ``should_audit`` (``decide``): SecAuditEngine and relevance.
* ``format_serial``, ``format_native`` + ``index_line`` + ``entry_path``,
  ``format_json``, ``format_debug``: the formats.
* ``parse``: reading them back, for ``secfilter log``.
"""

from .debug import format_debug
from .decide import is_relevant, should_audit
from .jsonlog import format_json
from .native import entry_path, format_native, index_line
from .record import AuditRecord, choose_parts
from .serial import format_serial

__all__ = ["AuditRecord", "choose_parts", "entry_path", "format_debug", "format_json",
           "format_native", "format_serial", "index_line", "is_relevant", "should_audit"]
