"""Where a webhook may be sent: no server-side request forgery.

A target must be https in production (http is accepted elsewhere, for development and tests), carry no
user name or password, and every address its host resolves to must be a public one: private, loopback,
link-local (cloud metadata at 169.254.169.254 included), shared (100.64.0.0/10), multicast, reserved and
unspecified addresses are refused, unless listed in SBT_WEBHOOK_ALLOW_HOSTS. The check is made when a
subscription is made and again before every delivery, which then connects to the very address it checked
(a name that resolves elsewhere the second time cannot redirect it), and redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """The URL may not be a webhook's target; the message says why."""


@dataclass(frozen=True)
class AllowList:
    hosts: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, text: str) -> "AllowList":
        hosts, networks = set(), []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def admits_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def admits_address(self, address: IpAddress) -> bool:
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as given


@dataclass(frozen=True)
class Resolved:
    target: Target
    address: IpAddress

    @property
    def url(self) -> str:
        """The URL with the checked address in place of the host (the Host header and TLS name stay)."""
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.target.scheme}://{host}:{self.target.port}{self.target.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.target.scheme == "https" else 80
        host = f"[{self.target.host}]" if ":" in self.target.host else self.target.host
        return host if self.target.port == default else f"{host}:{self.target.port}"


def parse(url: str, *, production: bool) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused(f"not a valid URL: {error}") from None
    allowed_schemes = {"https"} if production else {"https", "http"}
    if parts.scheme not in allowed_schemes:
        raise TargetRefused("must be an https URL" if production else "must be an http or https URL")
    if not parts.hostname:
        raise TargetRefused("has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("must not carry a user name or password")
    if parts.fragment:
        raise TargetRefused("must not carry a fragment")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def refusal(address: IpAddress, allow: AllowList) -> str | None:
    """Why a connection to ``address`` is refused (None: it is allowed)."""
    if allow.admits_address(address):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped, allow)
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address (cloud metadata lives there)"
    if address.is_private:
        return f"{address} is a private address"
    if address.is_multicast or address.is_reserved or address.is_unspecified or not address.is_global:
        return f"{address} is not a public address"
    return None


async def resolve(target: Target, allow: AllowList) -> Resolved:
    """The address to connect to, after checking every address the host resolves to."""
    try:
        literal: IpAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise TargetRefused(f"host {target.host} does not resolve: {error}") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
        if not addresses:
            raise TargetRefused(f"host {target.host} does not resolve")
    if not allow.admits_host(target.host):
        # Every address, not only the first: a name that resolves to a public and a private address is
        # refused, whichever one a client would pick.
        for address in addresses:
            why = refusal(address, allow)
            if why is not None:
                raise TargetRefused(f"host {target.host} resolves to {why}")
    return Resolved(target, addresses[0])


async def check(url: str, *, production: bool, allow: AllowList) -> Resolved:
    return await resolve(parse(url, production=production), allow)
