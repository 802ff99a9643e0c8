"""The SSRF guard (apps/core/ssrf.py): URL forms refused before any lookup, private addresses refused after the one
lookup, the checked IP pinned for the connection, redirects never followed, timeouts."""

from __future__ import annotations

import http.server
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from apps.core import ssrf

BAD_FORMS = [
    "file:///etc/passwd",
    "ftp://example.com/x",
    "gopher://example.com/",
    "javascript:alert(1)",
    "data:text/plain,hi",
    "dict://example.com:11211/",
    "//example.com/hook",
    "example.com/hook",
    "",
    "http://",
    "http:///hook",
    "http://user@example.com/hook",
    "http://user:pw@example.com/hook",
    "http://example.com@evil.test/hook",
    "http://example.com/hook#frag",
    "http://example.com/#",
    "http://exa mple.com/",
    "http://example.com/a b",
    "http://example.com\\@evil.test/",
    "http://example.com/a\\..\\b",
    "http://example.com/\x00",
    "http://example.com/\r\nHost: evil",
    "http://example.com/../admin",
    "http://example.com/a/../../etc/passwd",
    "http://example.com/%2e%2e/admin",
    "http://example.com/%2E%2E%2Fadmin",
    "http://example.com/%252e%252e/admin",
    "http://example.com/a%2fb",
    "http://example.com/a%5cb",
    "http://example.com/./x",
    "http://example.com:22/",
    "http://example.com:25/",
    "http://example.com:0/",
    "http://example.com:99999/",
    "http://example.com:abc/",
    "https://exa%6dple.com/",
    "http://exämple.com/",
    "http://" + "a" * 2100 + ".com/",
]


@pytest.mark.parametrize("url", BAD_FORMS)
def test_bad_url_forms_are_refused_before_any_lookup(url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def no_dns(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("no DNS lookup for a URL refused by its form")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(ssrf.UnsafeURL):
        ssrf.resolve(url)


PRIVATE = [
    "http://127.0.0.1/",
    "http://localhost/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://0.0.0.0/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[fc00::1]/",
    "http://[fe80::1]/",
    "http://[::]/",
    "http://[2002:7f00:1::]/",
]


@pytest.mark.parametrize("url", PRIVATE)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(url: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SSRF_ALLOWED_NETWORKS = []
    with pytest.raises(ssrf.UnsafeURL):
        ssrf.resolve(url)


@pytest.fixture
def fake_dns(monkeypatch):  # type: ignore[no-untyped-def]
    answers: dict[str, list[str]] = {}
    calls: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            ipaddress.ip_address(host)  # a literal address (the pinned connection): no lookup
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]
        except ValueError:
            pass
        calls.append(host)
        if host not in answers:
            raise socket.gaierror("no such host")
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, calls


def test_every_address_of_a_name_must_be_public(fake_dns, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SSRF_ALLOWED_NETWORKS = []
    answers, _ = fake_dns
    answers["mixed.example.test"] = ["93.184.216.34", "10.1.2.3"]
    answers["public.example.test"] = ["93.184.216.34"]
    with pytest.raises(ssrf.UnsafeURL, match=r"10\.1\.2\.3"):
        ssrf.resolve("https://mixed.example.test/hook")
    target = ssrf.resolve("https://public.example.test:8443/hook?x=1")
    assert (target.ip, target.host, target.port, target.path) == (
        "93.184.216.34",
        "public.example.test",
        8443,
        "/hook?x=1",
    )
    with pytest.raises(ssrf.UnsafeURL, match="does not resolve"):
        ssrf.resolve("https://nowhere.example.test/")


class Hook(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, str, dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Hook.received.append((self.path, self.headers.get("host", ""), json.loads(body)))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/other")
        elif self.path == "/slow":
            time.sleep(2)
            self.send_response(200)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


@pytest.fixture
def hook_server() -> Iterator[int]:
    Hook.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()


def test_loopback_is_refused_unless_allowed(hook_server, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SSRF_ALLOWED_NETWORKS = []
    with pytest.raises(ssrf.UnsafeURL):
        ssrf.post_json(f"http://127.0.0.1:{hook_server}/hook", {"a": 1})
    assert Hook.received == []
    settings.SSRF_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    assert ssrf.post_json(f"http://127.0.0.1:{hook_server}/hook", {"a": 1}) == 204
    assert Hook.received == [("/hook", f"127.0.0.1:{hook_server}", {"a": 1})]


def test_the_checked_ip_is_pinned_one_lookup_and_the_host_header_kept(hook_server, fake_dns, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SSRF_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    answers, calls = fake_dns
    answers["hooks.example.test"] = ["127.0.0.1"]
    assert ssrf.post_json(f"http://hooks.example.test:{hook_server}/in", {"ok": True}) == 204
    assert calls == ["hooks.example.test"], "resolved once; the connection goes to that IP"
    assert Hook.received == [("/in", f"hooks.example.test:{hook_server}", {"ok": True})]


def test_redirects_are_not_followed(hook_server, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SSRF_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    assert ssrf.post_json(f"http://127.0.0.1:{hook_server}/redirect", {}) == 302
    assert [r[0] for r in Hook.received] == ["/redirect"]


def test_slow_receivers_time_out(hook_server, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SSRF_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    started = time.monotonic()
    with pytest.raises(OSError):
        ssrf.post_json(f"http://127.0.0.1:{hook_server}/slow", {}, timeout=0.3)
    assert time.monotonic() - started < 1.5
