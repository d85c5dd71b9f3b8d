"""Requests to addresses that customers choose (their webhook URLs) must never
reach the platform's own network: Redis, PostgreSQL, the cloud metadata
service, the admin on localhost (SSRF, security review 8.7).

One module, used when a URL is registered (``url_validate``) and again for
every request (``post``), because DNS answers change:

- only ``http`` and ``https``, no ``user:password@``, no control characters;
- the host name is resolved once, *every* address it resolves to is checked
  (loopback, private, carrier-grade NAT, link-local, multicast, reserved, unspecified;
  IPv4 and IPv6, including IPv4 inside IPv6: mapped ``::ffff:127.0.0.1``,
  compatible ``::127.0.0.1``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``);
  numeric tricks such as ``http://2130706433/`` or ``http://0x7f.1/`` are
  caught because the check looks at what the name resolves to;
- the connection goes to the checked address itself (urllib3 pinned to the
  IP), so a rebinding DNS server cannot swap the address between check and
  connect; the ``Host`` header, TLS SNI and the certificate check stay on
  the host name;
- redirects are never followed and the answer's body is never read.

``allow_private`` (``WEBHOOK_ALLOW_PRIVATE_HOSTS``, off by default, also in
DEBUG) lets the test suite and ``make run`` reach receivers on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from requests.certs import where as default_ca_bundle

from otpportal.errors import ServiceError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Refusal messages: English here (``UnsafeUrl.message``, what a delivery attempt records),
# translated when a registration is refused (``url_validate``, Review 8.19).
NOT_HTTP = gettext_noop("url must be an http(s) URL.")
USERINFO = gettext_noop("url must not contain a user name or password.")
PRIVATE = gettext_noop(
    "url points to a private, loopback or reserved address; webhooks are sent only to public internet hosts."
)

_SCHEMES = {"http": 80, "https": 443}
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")  # IPv4-translated (RFC 2765)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix (RFC 6052)
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # local-use (RFC 8215): refuse
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)


class UnsafeUrl(Exception):
    """The URL may not be requested. ``message`` is a fixed text, safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestFailed(Exception):
    """No HTTP answer. ``reason`` is a short fixed text, never the peer's words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # lower-case, IDNA (ASCII), without brackets or a trailing dot
    port: int
    path: str  # path and query, at least "/"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _SCHEMES[self.scheme] else f"{host}:{self.port}"


def url_parse(url: str) -> Target:
    """The parts of an http(s) URL, or ``UnsafeUrl``. No network access."""
    if not isinstance(url, str) or any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise UnsafeUrl(NOT_HTTP)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl(NOT_HTTP) from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES or not parts.hostname:
        raise UnsafeUrl(NOT_HTTP)
    if "@" in parts.netloc:
        raise UnsafeUrl(USERINFO)
    host = parts.hostname.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii").lower() if not host.isascii() else host.lower()
    except UnicodeError:
        raise UnsafeUrl(NOT_HTTP) from None
    if not host or "%" in host:  # IPv6 zone ids ("fe80::1%eth0") are local by definition
        raise UnsafeUrl(PRIVATE)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    path = quote(path, safe="!$%&'()*+,/:;=?@[]~")  # non-ASCII as UTF-8 escapes; the rest as given
    return Target(scheme=scheme, host=host, port=port or _SCHEMES[scheme], path=path)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, translated, 6to4, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _SIIT or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_blocked(address: IPAddress | str) -> bool:
    """True for every address a customer's URL may not reach."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_blocked(embedded)
        if address in _IPV4_COMPATIBLE or address in _NAT64_LOCAL or address.is_site_local:
            return True
    elif address in _SHARED:
        return True
    return (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal is itself).
    Raises ``socket.gaierror`` when the name does not resolve."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _canonname, sockaddr in answers:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _local_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")  # RFC 6761: always loopback


def target_addresses(target: Target, *, allow_private: bool) -> list[str]:
    """Resolve once and check every address; the caller connects to these.
    Raises ``UnsafeUrl`` (refused) or ``socket.gaierror`` (no such name)."""
    if not allow_private and _local_name(target.host):
        raise UnsafeUrl(PRIVATE)
    addresses = resolve(target.host, target.port)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    if not allow_private and any(address_blocked(address) for address in addresses):
        raise UnsafeUrl(PRIVATE)
    return addresses


def url_validate(url: object, *, allow_private: bool, field: str = "url") -> None:
    """Registration: refuse a URL that may not be requested, as the API's
    ``invalid_request`` naming ``field``. A name that does not resolve now is
    accepted (DNS may be down for a moment); every request checks again."""
    try:
        target = url_parse(url)  # type: ignore[arg-type]
        target_addresses(target, allow_private=allow_private)
    except UnsafeUrl as refusal:
        message = _(refusal.message)
        raise ServiceError("invalid_request", message, details={field: [message]}) from None
    except (OSError, UnicodeError):
        return


def _pool(target: Target, address: str, *, timeout: float, ca_certs: str | None) -> urllib3.HTTPConnectionPool:
    """A pool bound to ``address`` (never the name: no second lookup)."""
    common: dict[str, Any] = {
        "port": target.port,
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "retries": False,
        "maxsize": 1,
    }
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs or default_ca_bundle(),
            server_hostname=target.host,  # SNI and the certificate's name: the host, not the IP
            **common,
        )
    return urllib3.HTTPConnectionPool(address, **common)


def _post_once(target: Target, address: str, *, body: bytes, headers: dict[str, str], **pool: Any) -> int:
    connection_pool = _pool(target, address, **pool)
    try:
        response = connection_pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        status = int(response.status)
        response.close()  # the body is never read
        return status
    finally:
        connection_pool.close()


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    allow_private: bool,
    ca_certs: str | None = None,
) -> int:
    """POST ``body`` to ``url`` on a checked, pinned address; return the HTTP
    status. Never follows a redirect, never reads the answer's body.
    Raises ``UnsafeUrl`` or ``RequestFailed`` (both with safe texts)."""
    target = url_parse(url)
    try:
        addresses = target_addresses(target, allow_private=allow_private)
    except (OSError, UnicodeError):
        raise RequestFailed("DNSError: the host name does not resolve") from None
    for address in addresses:  # every one of them was checked above
        try:
            return _post_once(target, address, body=body, headers=headers, timeout=timeout, ca_certs=ca_certs)
        except urllib3.exceptions.NewConnectionError:  # refused before anything was sent: the next address
            continue
        except (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.ReadTimeoutError):
            raise RequestFailed(f"Timeout: no answer within {timeout:g} s") from None
        except urllib3.exceptions.SSLError:
            raise RequestFailed("SSLError: TLS handshake or certificate check failed") from None
        except (urllib3.exceptions.HTTPError, OSError, ValueError):
            raise RequestFailed("ProtocolError: the connection broke or the answer was not HTTP") from None
    raise RequestFailed("ConnectionError: could not connect")
