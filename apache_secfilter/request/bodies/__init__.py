"""Request bodies: urlencoded and multipart parsers, and the body spool.

Push parsers without I/O (style anchors §3): the adapter reads the body, the
engine feeds it here in chunks of any size.  Malformed bodies raise
``BodyError`` (400), limits ``LimitExceeded`` (413), file problems
``RequestError`` (500).
"""

from apache_secfilter.request.bodies.multipart import (
    MultipartParser,
    MultipartResult,
    UploadedFile,
    boundary_from_content_type,
)
from apache_secfilter.request.bodies.spool import BodySpool
from apache_secfilter.request.bodies.urlencoded import (
    encode_urlencoded,
    percent_encode,
    split_urlencoded,
)

__all__ = [
    "BodySpool",
    "MultipartParser",
    "MultipartResult",
    "UploadedFile",
    "boundary_from_content_type",
    "encode_urlencoded",
    "percent_encode",
    "split_urlencoded",
]
