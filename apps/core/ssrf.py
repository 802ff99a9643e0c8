"""The one SSRF guard for outbound requests (webhooks): check the URL, resolve its host once, refuse private
addresses, and connect to the very IP that was checked (no second lookup a DNS rebinding could change).

Refused: schemes other than http/https; user:password@ in the URL; fragments; whitespace, control characters and
backslashes; `..` path segments, raw or percent-encoded, and encoded slashes; ports other than 80, 443 or
1024–65535; hosts that resolve to a loopback, private, link-local, multicast, reserved, unspecified or shared
(CGNAT) address, IPv4-mapped IPv6 forms included, unless settings.SSRF_ALLOWED_NETWORKS lists its network.
Every address a name resolves to must pass (a name with one public and one private record is refused).
Redirects are never followed (a 3xx is reported as such); connect and read have a timeout."""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings

ALLOWED_SCHEMES = {"http": 80, "https": 443}
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_HOST_RE = re.compile(r"^[A-Za-z0-9.-]+$")
MAX_URL_LENGTH = 2000
MAX_RESPONSE_BYTES = 64 * 1024


class UnsafeURL(ValueError):
    """The URL may not be called from the server; the message says why."""


class HostNotResolved(UnsafeURL):
    """The host name did not resolve (perhaps for a moment: a sender may try again later)."""


class PrivateAddress(UnsafeURL):
    """The host resolves to an address outside the public internet (and outside SSRF_ALLOWED_NETWORKS)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written (sent as the Host header and used for TLS verification)
    port: int
    ip: str  # the checked address we connect to
    path: str  # path + query


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out = []
    for raw in getattr(settings, "SSRF_ALLOWED_NETWORKS", []) or []:
        out.append(ipaddress.ip_network(str(raw).strip(), strict=False))
    return out


def ip_is_public(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped or addr.sixtofour
        if mapped is not None:
            return ip_is_public(str(mapped))
        if addr.teredo is not None:
            return False
    blocked = (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or not addr.is_global
    )
    return not blocked


def ip_allowed(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    if any(addr in net for net in _networks()):
        return True
    return ip_is_public(ip)


def check_url(url: Any) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL whose form is acceptable; UnsafeURL otherwise. No DNS here."""
    if not isinstance(url, str) or not url:
        raise UnsafeURL("Give a URL.")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if _BAD_CHARS.search(url):
        raise UnsafeURL("The URL contains whitespace, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"The URL is malformed: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeURL(f"Only http and https URLs are allowed, not {parts.scheme or 'a URL without a scheme'!r}.")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise UnsafeURL("URLs with a user name or password (user@host) are not allowed.")
    if parts.fragment or "#" in url:
        raise UnsafeURL("URLs with a fragment (#…) are not allowed.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL("The URL has no host.")
    is_literal_v6 = parts.netloc.startswith("[")
    if not is_literal_v6 and not _HOST_RE.match(host):
        raise UnsafeURL(f"The host {host!r} contains characters that are not allowed.")
    if port is None:
        port = ALLOWED_SCHEMES[scheme]
    if port not in (80, 443) and not 1024 <= port <= 65535:
        raise UnsafeURL(f"Port {port} is not allowed (use 80, 443 or 1024–65535).")
    path = parts.path or "/"
    decoded = path
    for _ in range(3):  # double- and triple-encoded forms too
        decoded = unquote(decoded)
    if "\\" in decoded or "\x00" in decoded:
        raise UnsafeURL("The URL path contains encoded backslashes or NUL characters.")
    if any(seg in ("..", ".") for seg in decoded.split("/")) or re.search(r"%2f|%5c", path, re.IGNORECASE):
        raise UnsafeURL("The URL path contains '.' or '..' segments or encoded slashes.")
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port, path


def resolve(url: Any) -> Target:
    """Check the URL, resolve its host once and check every address; the first one is pinned."""
    scheme, host, port, path = check_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostNotResolved(f"The host {host!r} does not resolve.") from exc
    ips = []
    for info in infos:
        ip = str(info[4][0]).split("%")[0]
        if ip not in ips:
            ips.append(ip)
    if not ips:
        raise HostNotResolved(f"The host {host!r} does not resolve.")
    refused = [ip for ip in ips if not ip_allowed(ip)]
    if refused:
        raise PrivateAddress(
            f"The host {host!r} resolves to a private, loopback, link-local or reserved address "
            f"({refused[0]}); such addresses are not called."
        )
    return Target(scheme=scheme, host=host, port=port, ip=ips[0], path=path)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.ip, target.port, timeout=timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the pinned IP but verifies the certificate for (and sends SNI of) the host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        self._server_name = target.host
        super().__init__(target.ip, target.port, timeout=timeout, context=ssl.create_default_context())

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)  # type: ignore[attr-defined]


def post_json(url: Any, payload: Any, *, timeout: float | None = None, headers: dict[str, str] | None = None) -> int:
    """POST `payload` as JSON through the guard; returns the HTTP status (3xx is not followed)."""
    return post(url, json.dumps(payload).encode(), timeout=timeout, headers=headers)


def post(url: Any, body: bytes, *, timeout: float | None = None, headers: dict[str, str] | None = None) -> int:
    """POST these exact bytes (JSON unless `headers` say otherwise) through the guard; returns the HTTP status (3xx
    is not followed). A signed webhook needs the bytes it signed to be the bytes sent."""
    target = resolve(url)
    timeout = float(timeout if timeout is not None else getattr(settings, "SSRF_TIMEOUT_S", 5))
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = _PinnedHTTPSConnection(target, timeout)
    else:
        conn = _PinnedHTTPConnection(target, timeout)
    default_port = ALLOWED_SCHEMES[target.scheme]
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host:
        host_header = f"[{target.host}]" if target.port == default_port else f"[{target.host}]:{target.port}"
    all_headers = {
        "Content-Type": "application/json",
        "User-Agent": "Atelier-Webhook/1",
        **(headers or {}),
        "Host": host_header,
    }
    try:
        conn.request("POST", target.path, body=body, headers=all_headers)
        response = conn.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return int(response.status)
    finally:
        conn.close()
