"""The requests the benchmarks send: what a browser sends, and the article's attack.

``secfilter bench`` uses them when it is given no request files; the project's
benchmark scripts share them (no generated rule may match a benign workload,
and the in-process and in-Apache figures measure the same requests).  The
headers are those a current desktop browser sends, because header count and
length decide what every rule over ``HEADERS_VALUES`` costs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from urllib.parse import urlencode

from apache_secfilter import Request, ServerFacts

BROWSER_HEADERS: tuple[tuple[str, str], ...] = (
    ("Host", "www.example.test"),
    ("Connection", "keep-alive"),
    ("sec-ch-ua", '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"'),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", '"Linux"'),
    ("Upgrade-Insecure-Requests", "1"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/124.0.0.0 Safari/537.36"),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
               "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-User", "?1"),
    ("Sec-Fetch-Dest", "document"),
    ("Referer", "http://www.example.test/catalogue/index.php?category=garden"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Accept-Language", "en-GB,en;q=0.9,fr;q=0.8"),
    ("Cookie", "PHPSESSID=9k2l1m3n4o5p6q7r8s9t0u1v2w; theme=light; consent=1"),
)

STATIC_HEADERS: tuple[tuple[str, str], ...] = tuple(
    (name, value) for name, value in BROWSER_HEADERS
    if name not in ("Upgrade-Insecure-Requests", "Sec-Fetch-User")
) + (("If-Modified-Since", "Tue, 02 Jan 2024 03:04:05 GMT"),)

#: About 1 KB of form fields, urlencoded, as a contact or comment form sends them.
POST_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "Alice Martin"),
    ("email", "alice.martin@example.org"),
    ("subject", "Question about my order 10482"),
    ("message", "Hello, I ordered two garden chairs and a small table last week and the "
                "confirmation e-mail said they would arrive within five working days. The "
                "tracking page still shows the parcel at the depot. Could you tell me whether "
                "the delivery date has changed, and if so, when I can expect it? I will be at "
                "home on Thursday and Friday afternoon. If the table is out of stock, please "
                "send the chairs first and the table when it is available. Many thanks for "
                "your help, and have a nice day. Kind regards, Alice"),
    ("phone", "+44 20 7946 0958"),
    ("address", "14 Orchard Lane, Flat 2"),
    ("city", "Cambridge"),
    ("postcode", "CB1 2AB"),
    ("country", "United Kingdom"),
    ("contact_time", "afternoon"),
    ("referral_code", "SPRING-2024-GARDEN"),
    ("gift_note", "Happy birthday, with love from all of us"),
    ("how_found", "A friend recommended your shop after buying a bench last spring"),
    ("order", "10482"),
    ("newsletter", "yes"),
    ("csrf_token", "b1946ac92492d2347c6235b4d2611184f1c6e7c2a9d1b5e8"),
    ("submit", "Send message"),
)


def _encode(pairs: tuple[tuple[str, str], ...]) -> bytes:
    return urlencode(pairs).encode("ascii")


@dataclass(frozen=True)
class Workload:
    """One request and its body, and the verdict it must get."""

    name: str
    request: Request
    body: bytes = b""
    attack: bool = False

    def raw(self) -> bytes:
        """The request as it travels on the wire (what ``secfilter bench`` files hold)."""
        req = self.request
        head = f"{req.method} {req.uri} {req.protocol}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in req.headers)
        return head.encode("latin-1") + b"\r\n" + self.body


def _post() -> Workload:
    body = _encode(POST_FIELDS)
    headers = BROWSER_HEADERS + (
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Length", str(len(body))),
        ("Origin", "http://www.example.test"),
    )
    request = Request("POST", "/contact.php", "HTTP/1.1", headers, "192.0.2.10", 51000,
                      facts=ServerFacts(handler="application/x-httpd-php"))
    return Workload("POST 1 KB", request, body)


#: The multipart upload's boundary and its file: 100 KB of a photograph's bytes.
UPLOAD_BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
UPLOAD_SIZE = 100 * 1024


def upload_file() -> bytes:
    """Deterministic bytes shaped like a JPEG: binary data, as a real upload is."""
    data = random.Random(4711).randbytes(UPLOAD_SIZE - 4)
    return b"\xff\xd8\xff\xe0" + data


def _multipart() -> Workload:
    dash = f"--{UPLOAD_BOUNDARY}".encode("ascii")
    fields = (("title", "Garden bench, after the repair"),
              ("description", "The bench we bought last spring, repainted in green."),
              ("album", "garden"))
    parts = [dash + b'\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
             % (name.encode(), value.encode()) for name, value in fields]
    parts.append(dash + b'\r\nContent-Disposition: form-data; name="photo"; '
                 b'filename="bench.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
                 + upload_file() + b"\r\n")
    body = b"".join(parts) + dash + b"--\r\n"
    headers = BROWSER_HEADERS + (
        ("Content-Type", f"multipart/form-data; boundary={UPLOAD_BOUNDARY}"),
        ("Content-Length", str(len(body))),
        ("Origin", "http://www.example.test"),
    )
    request = Request("POST", "/upload.php", "HTTP/1.1", headers, "192.0.2.10", 51000,
                      facts=ServerFacts(handler="application/x-httpd-php"))
    return Workload("POST 100 KB multipart", request, body)


def workloads() -> list[Workload]:
    """Benign requests first, the article's attack last."""
    php = ServerFacts(handler="application/x-httpd-php")
    get = Request("GET", "/catalogue/product.php?id=4711&colour=green&sort=price&page=2",
                  "HTTP/1.1", BROWSER_HEADERS, "192.0.2.10", 51000, facts=php)
    static = Request("GET", "/static/css/site.min.css?v=3.2.1", "HTTP/1.1", STATIC_HEADERS,
                     "192.0.2.10", 51000, facts=ServerFacts(handler=None))
    attack = Request("GET", "/vulnerable.php?file=/etc/passwd", "HTTP/1.1", BROWSER_HEADERS,
                     "192.0.2.10", 51000, facts=php)
    return [Workload("GET page", get), Workload("GET static", static), _post(),
            _multipart(), Workload("seed attack", attack, attack=True)]


def benign() -> list[Workload]:
    return [w for w in workloads() if not w.attack]
