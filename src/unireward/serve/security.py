"""Who may call a unireward server, and which image URLs it may fetch.

Design choices a user will notice:
- API keys are optional on loopback and REQUIRED on any other bind address (`require_key_off_loopback`).
  A key is sent as ``Authorization: Bearer KEY`` (what OpenAI clients send) or ``x-api-key: KEY``; keys are
  compared in constant time. Health routes stay open so load balancers can probe them.
- Image URLs: ``data:`` URLs are always accepted (and checked). Remote fetching is OFF by default. An
  ``http``/``https`` URL is fetched only when its host is on the allow-list (exact host names, case-
  insensitive); ``file://`` and every other scheme are never fetched. The host is resolved by the server,
  and every address it resolves to must be public: loopback, private, link-local (169.254.x, the cloud
  metadata service), multicast, reserved and unspecified addresses are refused unless they fall in a
  network the operator allowed explicitly (``--allow-url-network 127.0.0.0/8``). The connection then goes
  to that checked address (the Host header and TLS SNI keep the name), so a DNS answer cannot change
  between the check and the fetch. Redirects are not followed; proxies from the environment are ignored;
  the download is capped in bytes and time.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from unireward.serve.errors import ApiError, bad_request, error_body


LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_loopback_host(host: str) -> bool:
    """True for loopback bind addresses (127.x, ::1, localhost); 0.0.0.0 and real interfaces are not."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_key_off_loopback(host: str, api_keys: Iterable[str]) -> None:
    if not is_loopback_host(host) and not [k for k in api_keys if k]:
        raise SystemExit(f"binding to {host} (not loopback) needs an API key: pass --api-key or set "
                         "UNIREWARD_API_KEY")


# ---------------------------------------------------------------------- API keys
class ApiKeyAuth:
    """ASGI middleware: every route except `open_paths` needs one of `keys` (none configured: all open)."""

    def __init__(self, app: Any, keys: Iterable[str], open_paths: Iterable[str] = ("/health",)):
        self.app, self.keys, self.open_paths = app, [k.encode() for k in keys if k], set(open_paths)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.keys or scope.get("path") in self.open_paths:
            return await self.app(scope, receive, send)
        if self._allowed(dict(scope.get("headers") or [])):
            return await self.app(scope, receive, send)
        body = json.dumps(error_body(401, "missing or wrong API key: send 'Authorization: Bearer KEY' or "
                                          "'x-api-key: KEY'")).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _allowed(self, headers: dict[bytes, bytes]) -> bool:
        given = headers.get(b"x-api-key", b"").strip()
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        return bool(given) and any(hmac.compare_digest(given, k) for k in self.keys)


# ---------------------------------------------------------------------- URL policy
@dataclass(frozen=True)
class UrlPolicy:
    """Which remote image URLs may be fetched: hosts on `allow_hosts`, resolving to public addresses or to
    addresses inside `allow_networks`."""

    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def build(cls, hosts: Iterable[str] = (), networks: Iterable[str] = ()) -> UrlPolicy:
        return cls(frozenset(h.lower().strip("[]") for h in hosts),
                   tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    async def check(self, url: str, param: str) -> tuple[Any, IPAddress]:
        """The parsed URL and the checked address to connect to; ApiError(400) naming the rule otherwise."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise bad_request(param, f"{scheme or 'this'}:// URLs are never fetched; send the image inline as a "
                                     "base64 data URL (data:image/png;base64,...)")
        host = (parts.hostname or "").lower()
        if not host:
            raise bad_request(param, "the URL has no host")
        if parts.username or parts.password:
            raise bad_request(param, "URLs with credentials are refused")
        if host not in self.allow_hosts:
            why = ("remote image URLs are disabled on this server (no --allow-url-host)" if not self.allow_hosts
                   else f"host {host!r} is not on the server's --allow-url-host list")
            raise bad_request(param, f"{why}; send the image inline as a base64 data URL")
        port = parts.port or (443 if scheme == "https" else 80)
        addresses = await _resolve(host, port, param)
        for addr in addresses:
            kind = _restricted(addr)
            if kind and not any(addr in net for net in self.allow_networks if net.version == addr.version):
                raise bad_request(param, f"host {host!r} resolves to {addr}, a {kind} address; refused (an operator "
                                         "can allow a network with --allow-url-network)")
        return parts, addresses[0]


async def _resolve(host: str, port: int, param: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise bad_request(param, f"cannot resolve host {host!r} ({e})") from None
    out: list[IPAddress] = []
    for *_, sockaddr in infos:
        addr = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if addr not in out:
            out.append(addr)
    if not out:
        raise bad_request(param, f"host {host!r} has no address")
    return out


def _restricted(addr: IPAddress) -> str | None:
    """The kind of non-public address `addr` is, or None for a public one."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(addr, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if addr.is_global else "non-global"


async def fetch(policy: UrlPolicy, url: str, param: str, max_bytes: int, timeout: float) -> bytes:
    """Download an allowed image URL from its checked address; 400 on any refusal or failure."""
    import httpx

    parts, addr = await policy.check(url, param)
    target = httpx.URL(scheme=parts.scheme.lower(), host=str(addr), port=parts.port, path=parts.path or "/",
                       **({"query": parts.query.encode()} if parts.query else {}))
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "Accept": "image/*"}
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            req = client.build_request("GET", target, headers=headers,
                                       extensions={"sni_hostname": parts.hostname} if parts.scheme == "https" else {})
            async with asyncio.timeout(timeout):
                resp = await client.send(req, stream=True)
                try:
                    return await _read_capped(resp, param, max_bytes)
                finally:
                    await resp.aclose()
    except ApiError:
        raise
    except (httpx.HTTPError, TimeoutError, OSError) as e:
        raise bad_request(param, f"could not fetch the image ({type(e).__name__}: {e})") from None


async def _read_capped(resp: Any, param: str, max_bytes: int) -> bytes:
    if 300 <= resp.status_code < 400:
        raise bad_request(param, f"the image URL answered a redirect ({resp.status_code}); redirects are not followed")
    if resp.status_code != 200:
        raise bad_request(param, f"the image URL answered HTTP {resp.status_code}")
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise bad_request(param, f"the image is {declared} bytes, over the limit of {max_bytes}")
    data = bytearray()
    async for chunk in resp.aiter_bytes():
        data += chunk
        if len(data) > max_bytes:
            raise bad_request(param, f"the image is over the limit of {max_bytes} bytes")
    return bytes(data)
