"""Collects a request body chunk by chunk and turns it into what rules see.

urlencoded bodies give parameters, multipart bodies give fields and uploads
(decisions R2), every other type is only POST_PAYLOAD.  The bytes go to a
BodySpool (memory, then a file past SecUploadInMemoryLimit, decisions R3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import LimitExceeded, RequestError
from ..limits import Limits
from ..request.bodies.multipart import MultipartParser, boundary_from_content_type
from ..request.bodies.spool import BodySpool
from ..request.bodies.urlencoded import split_urlencoded
from ..request.normalise import normalise
from ..request.view import BodyInfo, UploadInfo


def body_kind(content_type: str) -> str:
    """``urlencoded``, ``multipart`` or ``raw`` from a Content-Type value."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/x-www-form-urlencoded":
        return "urlencoded"
    if mime == "multipart/form-data":
        return "multipart"
    return "raw"


@dataclass
class BodyResult:
    """The parsed body: what the view needs, and what checks and logs need."""

    info: BodyInfo
    raw_checked: bytes | None = None  # urlencoded body: checked for URL encoding
    field_values: list[bytes] = field(default_factory=list)  # multipart, for checks
    uploads: list = field(default_factory=list)  # request.bodies.multipart.UploadedFile
    spool: BodySpool | None = None


class BodyCollector:
    """Receives body chunks; ``finish()`` parses and returns a BodyResult."""

    def __init__(self, content_type: str, limits: Limits, spool_dir: str | None,
                 spool_prefix: str, in_memory: int | None = None) -> None:
        """``in_memory``: keep up to this many bytes per spool in memory, when more
        than ``limits.body_in_memory`` (``Transaction.feed_body``, ``held``)."""
        self.kind = body_kind(content_type)
        self.limits = limits
        self.in_memory = max(limits.body_in_memory, in_memory or 0)
        self.size = 0
        self.spool_dir, self.spool_prefix = spool_dir, spool_prefix
        self.spool = self._new_spool()
        self.parser: MultipartParser | None = None
        self._spools: list[BodySpool] = [self.spool]
        if self.kind == "multipart":
            boundary = boundary_from_content_type(content_type)
            self.parser = MultipartParser(boundary, limits, self._new_tracked_spool)

    def _new_spool(self) -> BodySpool:
        return BodySpool(self.in_memory, self.spool_dir, self.spool_prefix)

    def _new_tracked_spool(self) -> BodySpool:
        spool = self._new_spool()
        self._spools.append(spool)
        return spool

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limits.body_bytes:
            raise LimitExceeded(f"request body larger than {self.limits.body_bytes} bytes")
        self.spool.write(chunk)
        if self.parser is not None:
            self.parser.feed(chunk)

    def finish(self) -> BodyResult:
        if self.kind == "multipart" and self.parser is not None:
            return self._finish_multipart(self.parser)
        data = self.spool.getvalue()
        if self.kind == "urlencoded":
            pairs = tuple(split_urlencoded(data, self.limits.args))
            info = BodyInfo(payload=normalise(data), params=pairs, form_encoded=True)
            return BodyResult(info, raw_checked=data, spool=self.spool)
        return BodyResult(BodyInfo(payload=normalise(data, plus_as_space=False)),
                          spool=self.spool)

    def _finish_multipart(self, parser: MultipartParser) -> BodyResult:
        result = parser.close()
        synthetic = result.synthetic_urlencoded()
        pairs = tuple(split_urlencoded(synthetic, self.limits.args))
        uploads = tuple(UploadInfo(f.field, f.filename, f.size) for f in result.files)
        info = BodyInfo(payload=normalise(synthetic), params=pairs, uploads=uploads)
        values = [v for pair in result.fields for v in pair]
        return BodyResult(info, field_values=values, uploads=list(result.files),
                          spool=self.spool)

    def close(self, keep: bool = False) -> None:
        """Remove temporary files, or keep uploads (SecUploadKeepFiles)."""
        for spool in self._spools:
            if keep and spool is not self.spool and not spool.closed:
                spool.materialise()
                spool.keep()
            spool.close()


__all__ = ["BodyCollector", "BodyResult", "RequestError", "body_kind"]
