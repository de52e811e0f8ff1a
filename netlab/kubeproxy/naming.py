"""How kube-proxy (iptables mode) names its per-Service and per-endpoint chains.

iptables chain names may be at most 28 characters long, and a Service port name such
as ``kube-system/kube-dns:dns-tcp`` plus an endpoint address does not fit. So
kube-proxy hashes them: SHA-256, encoded with RFC 4648 base32 (``A-Z2-7``), cut to
the first 16 characters. This module is the one place netlab computes those names;
the rule builder, the evaluator and the tests all call it.

The strings hashed are exactly kube-proxy's:

* the *service port name* ``"<namespace>/<name>:<port name>"`` (``ServicePortName.String()``;
  the ``:<port name>`` part is left out when the port has no name, e.g. ``ns1/svc1``);
* then the lower-case protocol, concatenated with no separator (``"ns1/svc1:p80tcp"``);
* for an endpoint chain, then the endpoint ``"IP:port"`` (``net.JoinHostPort``: IPv6
  in brackets).

Taught in ``notebooks/07-services.ipynb``.

Example:
    >>> chain_name("KUBE-SVC", "ns1/svc1:p80", "tcp")
    'KUBE-SVC-XPGD46QRK7WJZT7O'
    >>> endpoint_chain_name("ns1/svc1:p80", "tcp", "10.180.0.1:80")
    'KUBE-SEP-SXIVWICOYRO3J4NJ'
"""

from __future__ import annotations

import hashlib
import ipaddress

from ..errors import ConfigError, did_you_mean

#: The prefixes kube-proxy puts in front of a service port hash (``proxier.go``).
SERVICE_CHAIN_PREFIXES = ("KUBE-SVC", "KUBE-SVL", "KUBE-EXT", "KUBE-FW")

#: The prefix of a per-endpoint chain (also the ``-m recent --name`` list for ClientIP affinity).
ENDPOINT_CHAIN_PREFIX = "KUBE-SEP"

#: iptables refuses chain names longer than this (``XT_EXTENSION_MAXNAMELEN`` - 1).
MAX_CHAIN_NAME = 28


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _b32_16(text: str) -> str:
    # base32 turns each 5 bytes into 8 characters on its own, so the first 16 characters
    # of the whole digest's encoding are the encoding of its first 10 bytes (80 bits);
    # shifting them out of one integer is several times faster than base64.b32encode.
    n = int.from_bytes(hashlib.sha256(text.encode()).digest()[:10], "big")
    return "".join([_B32[(n >> shift) & 31] for shift in range(75, -1, -5)])


def service_port_name(namespace: str, name: str, port_name: str = "") -> str:
    """Return kube-proxy's name for one port of one Service.

    Args:
        namespace: the Service's namespace.
        name: the Service's name.
        port_name: ``spec.ports[].name``; empty for a Service with one unnamed port.

    Returns:
        ``"<namespace>/<name>:<port name>"``, or ``"<namespace>/<name>"`` when the port
        has no name, as ``ServicePortName.String()`` prints it.

    Example:
        >>> service_port_name("kube-system", "kube-dns", "dns")
        'kube-system/kube-dns:dns'
        >>> service_port_name("ns1", "svc1")
        'ns1/svc1'
    """
    base = f"{namespace}/{name}"
    return f"{base}:{port_name}" if port_name else base


def port_proto_hash(service_port: str, protocol: str) -> str:
    """Return the 16-character hash kube-proxy derives from a service port name and protocol.

    Args:
        service_port: a service port name such as ``"ns1/svc1:p80"``.
        protocol: ``"tcp"``, ``"udp"`` or ``"sctp"`` (upper case is lowered, as
            kube-proxy lowers ``v1.Protocol``).

    Returns:
        The first 16 characters of ``base32(sha256(service_port + protocol))``.

    Example:
        >>> port_proto_hash("default/kubernetes:https", "TCP")
        'NPX46M4PTMTKRN6Y'
    """
    return _b32_16(service_port + protocol.lower())


def chain_name(prefix: str, service_port: str, protocol: str) -> str:
    """Return the name of a per-service-port chain.

    The four chains of one service port share one hash and differ only in the
    prefix: ``KUBE-SVC`` (Cluster policy endpoints), ``KUBE-SVL`` (Local policy
    endpoints), ``KUBE-EXT`` (external destinations) and ``KUBE-FW``
    (loadBalancerSourceRanges).

    Args:
        prefix: one of :data:`SERVICE_CHAIN_PREFIXES`.
        service_port: a service port name such as ``"ns1/svc1:p80"``.
        protocol: the port's protocol.

    Returns:
        ``"<prefix>-<hash>"``.

    Raises:
        ConfigError: for a prefix kube-proxy does not use.

    Example:
        >>> chain_name("KUBE-SVC", "kube-system/kube-dns:dns", "udp")
        'KUBE-SVC-TCOU7JCQXEZGVUNU'
        >>> chain_name("KUBE-EXT", "kube-system/kube-dns:dns", "udp")
        'KUBE-EXT-TCOU7JCQXEZGVUNU'
    """
    if prefix not in SERVICE_CHAIN_PREFIXES:
        raise ConfigError(
            f"kube-proxy names service chains with one of {', '.join(SERVICE_CHAIN_PREFIXES)}, "
            f"not {prefix!r}; per-endpoint chains use endpoint_chain_name()."
            + did_you_mean(prefix, SERVICE_CHAIN_PREFIXES)
        )
    return f"{prefix}-{port_proto_hash(service_port, protocol)}"


def join_host_port(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str:
    """Join an address and a port the way Go's ``net.JoinHostPort`` does.

    Example:
        >>> join_host_port("10.180.0.1", 80)
        '10.180.0.1:80'
        >>> join_host_port("fd00::1", 80)
        '[fd00::1]:80'
    """
    text = str(ip)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def endpoint_chain_name(service_port: str, protocol: str, endpoint: str) -> str:
    """Return the name of the ``KUBE-SEP-...`` chain of one endpoint of one service port.

    The same name is the ``-m recent --name`` list that remembers clients for
    ClientIP session affinity.

    Args:
        service_port: a service port name such as ``"ns1/svc1:p80"``.
        protocol: the port's protocol.
        endpoint: ``"IP:port"`` as :func:`join_host_port` writes it.

    Returns:
        ``"KUBE-SEP-" + base32(sha256(service_port + protocol + endpoint))[:16]``.

    Example:
        >>> endpoint_chain_name("ns1/svc1:p80", "tcp", "10.180.0.1:80")
        'KUBE-SEP-SXIVWICOYRO3J4NJ'
    """
    return f"{ENDPOINT_CHAIN_PREFIX}-{_b32_16(service_port + protocol.lower() + endpoint)}"
