"""Image URLs: only allow-listed http(s) hosts that resolve to allowed addresses are fetched. Nothing here
leaves 127.0.0.1: refusals happen before any connection, and the one positive fetch is from a local server."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.serve.conftest import chat, data_url, error_of, png_bytes, user
from unireward.serve.errors import ApiError
from unireward.serve.openai_compat import BackgroundServer
from unireward.serve.security import UrlPolicy, _restricted


PNG = png_bytes(3)
PARAM = "messages[0].content[0].image_url.url"


class _Images(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        _Images.hits.append(self.path)
        if self.path == "/redirect.png":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        if self.path == "/big.png":
            self.send_response(200)
            self.send_header("Content-Length", str(30 << 20))
            self.end_headers()
            return
        self.send_response(200 if self.path == "/cat.png" else 404)
        body = PNG if self.path == "/cat.png" else b"not found"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def image_host():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join(5)


def _refusal(srv, url: str) -> str:
    r = chat(srv.url, {"messages": user("hi", url), "max_tokens": 1})
    assert r.status_code == 400, r.text
    assert error_of(r)["param"] == PARAM
    return error_of(r)["message"]


def test_an_allowed_loopback_host_is_fetched_when_its_network_is_allowed(qwen_judge, served, image_host):
    policy = UrlPolicy.build(hosts=["127.0.0.1"], networks=["127.0.0.0/8"])
    with BackgroundServer(qwen_judge, served_name="tiny", url_policy=policy) as srv:
        body = {"messages": user("Describe the image.", f"http://{image_host}/cat.png"), "max_tokens": 4}
        r = chat(srv.url, body)
        assert r.status_code == 200, r.text
        inline = chat(served.url, {**body, "messages": user("Describe the image.", data_url(PNG))}).json()
        assert r.json()["choices"] == inline["choices"]  # the fetched image is the one sent inline
        assert r.json()["usage"] == inline["usage"]
        assert "URL answered HTTP 404" in _refusal(srv, f"http://{image_host}/missing.png")
        assert "redirects are not followed" in _refusal(srv, f"http://{image_host}/redirect.png")
        assert "over the limit of 20971520" in _refusal(srv, f"http://{image_host}/big.png")
        assert "not a readable image" not in _refusal(srv, "file:///etc/passwd")
        assert "not on the server's --allow-url-host list" in _refusal(srv, "http://169.254.169.254/x.png")
    assert "/redirect.png" in _Images.hits and not any("meta-data" in h for h in _Images.hits)


def test_allowed_hosts_on_loopback_or_link_local_addresses_are_refused(qwen_judge, image_host):
    policy = UrlPolicy.build(hosts=["127.0.0.1", "localhost", "169.254.169.254", "10.1.2.3"])
    before = len(_Images.hits)
    with BackgroundServer(qwen_judge, served_name="tiny", url_policy=policy) as srv:
        assert "a loopback address" in _refusal(srv, f"http://{image_host}/cat.png")
        port = image_host.split(":")[1]
        assert "a loopback address" in _refusal(srv, f"http://localhost:{port}/cat.png")
        assert "169.254.169.254, a link-local address" in _refusal(srv, "http://169.254.169.254/latest/meta-data/")
        assert "10.1.2.3, a private address" in _refusal(srv, "https://10.1.2.3/cat.png")
        assert "never fetched" in _refusal(srv, "file://localhost/etc/passwd")
        assert "never fetched" in _refusal(srv, "ftp://127.0.0.1/cat.png")
        assert "credentials" in _refusal(srv, f"http://user:pw@{image_host}/cat.png")
    assert len(_Images.hits) == before  # nothing was fetched


@pytest.mark.parametrize("address,kind", [("127.0.0.1", "loopback"), ("::1", "loopback"),
                                          ("169.254.169.254", "link-local"), ("10.0.0.1", "private"),
                                          ("192.168.1.1", "private"), ("::ffff:127.0.0.1", "loopback"),
                                          ("0.0.0.0", "private"), ("fe80::1", "link-local"),
                                          ("224.0.0.1", "multicast"), ("8.8.8.8", None)])
def test_address_kinds(address, kind):
    assert _restricted(ipaddress.ip_address(address)) == kind


def test_policy_check_resolves_and_pins_the_address():
    policy = UrlPolicy.build(hosts=["127.0.0.1", "8.8.8.8"], networks=["127.0.0.0/8"])
    parts, addr = asyncio.run(policy.check("http://127.0.0.1:9/a.png", "p"))
    assert str(addr) == "127.0.0.1" and parts.port == 9
    _, addr = asyncio.run(policy.check("https://8.8.8.8/a.png", "p"))  # a literal: no lookup, no connection
    assert str(addr) == "8.8.8.8"
    with pytest.raises(ApiError, match="not on the server's --allow-url-host list"):
        asyncio.run(policy.check("http://example.com/a.png", "p"))
