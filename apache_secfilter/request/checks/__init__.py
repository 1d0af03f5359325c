"""The built-in checks of ModSecurity 1.x (spec §7, "implicit validation").

Each check is a pure function that returns ``None`` when the data is valid
and otherwise the reason text for the alert; none of them raises on any
input, because a check that crashed on hostile data would hand the attacker
the error path instead of the alert.

* ``check_url_encoding`` - ``SecFilterCheckURLEncoding``, on raw data;
* ``check_utf8`` - ``SecFilterCheckUnicodeEncoding``, on URL-decoded data;
* ``check_byte_range`` - ``SecFilterForceByteRange``;
* ``check_cookie_format`` / ``parse_cookies`` - ``SecFilterCheckCookieFormat``
  and ``SecFilterCookieFormat``.
"""

from apache_secfilter.request.checks.byte_range import check_byte_range
from apache_secfilter.request.checks.cookies import CookieJar, check_cookie_format, parse_cookies
from apache_secfilter.request.checks.unicode import check_utf8
from apache_secfilter.request.checks.url_encoding import check_url_encoding

__all__ = [
    "CookieJar",
    "check_byte_range",
    "check_cookie_format",
    "check_url_encoding",
    "check_utf8",
    "parse_cookies",
]
