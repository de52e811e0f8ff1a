"""Text exactly as the real tools print it: ``ip addr``, ``kubectl get pods -o wide``,
``az network route-table route list -o table``.

Example:
    >>> eui64_link_local("00:0d:3a:12:34:56")
    'fe80::20d:3aff:fe12:3456/64'
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ..model.types import AzureRoute, Interface
from ..model.routing import format_kubectl, format_table


class ToolText(str):
    r"""Text a tool prints. It is a ``str``; in Jupyter it shows as the text itself, not a quoted string.

    >>> ToolText("a\nb")
    a
    b
    """

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's plain-text display
        p.text(str(self))


def eui64_link_local(mac: str) -> str:
    """The IPv6 link-local address the kernel derives from a MAC (modified EUI-64)."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    eui = b[:3] + [0xFF, 0xFE] + b[3:]
    addr = ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui))
    return f"{addr}/64"


def _flags(i: Interface) -> str:
    if i.kind == "loopback":
        return "<LOOPBACK,UP,LOWER_UP>"
    if i.kind == "dummy":  # kube-ipvs0: kube-proxy never sets it up; the kernel answers for its addresses anyway
        return "<BROADCAST,NOARP>"
    flags = ["BROADCAST", "MULTICAST"] if i.multicast else ["BROADCAST"]
    if i.promisc:
        flags.append("PROMISC")
    flags += ["UP", "LOWER_UP"]
    return "<" + ",".join(flags) + ">"


def format_ip_addr(interfaces: Sequence[Interface], metric_on: str | None = None) -> str:
    """All interfaces as ``ip addr`` prints them.

    ``metric_on`` names the interface whose address came from DHCP with a route metric
    (systemd-networkd prints it as ``metric 100`` on the ``inet`` line).
    """
    out: list[str] = []
    for i in interfaces:
        name = f"{i.name}@if{i.peer_ifindex}" if i.kind == "veth" else i.name
        qdisc = "mq" if i.kind == "ether" else "noop" if i.kind == "dummy" else "noqueue"
        state = "UNKNOWN" if i.kind == "loopback" else "DOWN" if i.kind == "dummy" else "UP"
        master = f" master {i.master}" if i.master else ""
        out.append(
            f"{i.ifindex}: {name}: {_flags(i)} mtu {i.mtu} qdisc {qdisc}{master} state {state} "
            "group default" + (f" qlen {i.qlen}" if i.qlen else "")
        )
        if i.kind == "loopback":
            out.append("    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00")
        else:
            link = f"    link/ether {i.mac} brd ff:ff:ff:ff:ff:ff"
            if i.kind == "veth":
                link += f" link-netns {i.peer_netns}" if i.peer_netns else " link-netnsid 0"
            out.append(link)
        for a in i.addresses:
            if i.kind == "loopback":
                out.append(f"    inet {a.with_prefixlen} scope host lo")
            else:
                metric = " metric 100" if i.name == metric_on else ""
                brd = (f" brd {a.network.broadcast_address}"
                       if i.broadcast and i.kind != "dummy" and a.network.prefixlen < 31 else "")
                out.append(f"    inet {a.with_prefixlen}{metric}{brd} scope global {i.name}")
            out.append("       valid_lft forever preferred_lft forever")
        if i.kind == "loopback":
            out += ["    inet6 ::1/128 scope host", "       valid_lft forever preferred_lft forever"]
        elif i.kind != "dummy" and (i.master is None or i.kind != "ether"):
            out += [f"    inet6 {eui64_link_local(i.mac)} scope link",
                    "       valid_lft forever preferred_lft forever"]
    return "\n".join(out)


def format_route_table(routes: Sequence[AzureRoute], resource_group: str) -> str:
    """Routes as ``az network route-table route list -g RG --route-table-name RT -o table``."""
    headers = ("AddressPrefix", "HasBgpOverride", "Name", "NextHopIpAddress", "NextHopType",
               "ProvisioningState", "ResourceGroup")
    rows = [
        (str(r.address_prefix), "False", r.name, str(r.next_hop_ip or ""), r.next_hop_type,
         "Succeeded", resource_group)
        for r in routes
    ]
    return format_table(headers, rows)


def format_pods_wide(rows: Sequence[Sequence[str]], all_namespaces: bool = False, wide: bool = True) -> str:
    """Pods as ``kubectl get pods -o wide`` (with ``-A``, a NAMESPACE column first); ``wide=False``: as plain
    ``kubectl get pods`` prints them, the first five columns (the rows may still carry all nine)."""
    headers = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
               "READINESS GATES"]
    if not wide:
        headers = headers[:5]
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    return format_kubectl(headers, [list(r)[: len(headers)] for r in rows])


def human_duration(minutes: int) -> str:
    """A duration as docker/go-units' ``HumanDuration`` words it (crictl's ``CREATED``, before ``ago``).

    >>> [human_duration(m) for m in (0, 1, 3, 59, 60, 89, 90, 2880)]
    ['Less than a second', 'About a minute', '3 minutes', '59 minutes', 'About an hour', 'About an hour', '2 hours', '2 days']
    """
    if minutes < 1:
        return "Less than a second"
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(minutes / 60 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{minutes // 60 // 24 // 365} years"
