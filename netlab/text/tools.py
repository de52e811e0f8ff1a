"""Tables the model implies but no ``Cluster`` method printed before: each as its tool prints it.

* ``ip route show table local``: the kernel's local routing table, built from the
  interfaces' addresses exactly as ``fib_add_ifaddr`` adds them (a ``local`` route per
  address, the ``127.0.0.0/8`` loopback route, a ``broadcast`` route for the network's
  last address when the prefix is shorter than /31), in the kernel's dump order
  (ascending by destination).
* ``bridge fdb show``: a bridge's forwarding database: the MAC address each port
  learned (a pod's ``eth0``, or Azure's gateway on the uplink), every port's own
  address (``permanent``) and the multicast groups of each device (``self permanent``).
* ``ip neigh``: the neighbours a node or pod has resolved by ARP (``STALE``, the state of
  an entry that answered and has not been used for a while).
* ``conntrack -L``: the connection-tracking entries a trace leaves on a node.
* ``ip route`` of the hosts around the cluster and of the on-premises router.
* ``az network lb outbound-rule list -o table`` and the nodes' pod ranges
  (``kubectl get nodes -o custom-columns=...``), which the Azure CNI Overlay routing
  domain follows.

Pure functions of model values; :mod:`netlab.cluster.commands` puts them behind real commands.

Example:
    >>> from netlab.model import Interface, IPv4Interface
    >>> lo = Interface(1, "lo", "loopback", "00:00:00:00:00:00", (IPv4Interface("127.0.0.1/8"),))
    >>> print("\\n".join(local_table([lo])))
    local 127.0.0.0/8 dev lo proto kernel scope host src 127.0.0.1
    local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1
    broadcast 127.255.255.255 dev lo proto kernel scope link src 127.0.0.1
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from ..model.types import Interface, IPv4Address, Route
from ..model.routing import format_kubectl, format_table

AZURE_GATEWAY_MAC = "12:34:56:78:9a:bc"  # the MAC Azure's virtual network answers every ARP request with
CONNTRACK_VERSION = "1.4.8"


# --------------------------------------------------------------------------- ip route show table local
def local_route(ip: IPv4Address, dev: str) -> str:
    """The ``local`` route the kernel adds for an address: the line that takes a packet up to this host."""
    return f"local {ip} dev {dev} proto kernel scope host src {ip}"


def local_table(interfaces: Iterable[Interface]) -> list[str]:
    """``ip route show table local`` for a network namespace with these interfaces."""
    rows: list[tuple[int, int, int, str]] = []
    for i in interfaces:
        for a in i.addresses:
            ip, net = a.ip, a.network
            if i.kind == "loopback" and net.prefixlen < 32:
                rows.append((int(net.network_address), net.prefixlen, i.ifindex,
                             f"local {net} dev {i.name} proto kernel scope host src {ip}"))
            rows.append((int(ip), 32, i.ifindex, local_route(ip, i.name)))
            if net.prefixlen < 31:
                rows.append((int(net.broadcast_address), 32, i.ifindex,
                             f"broadcast {net.broadcast_address} dev {i.name} proto kernel scope link src {ip}"))
    seen: set[str] = set()
    out = []
    for *_, line in sorted(rows):
        if line not in seen:
            seen.add(line)
            out.append(line)
    return out


# --------------------------------------------------------------------------- bridge fdb show
def _solicited(mac: str) -> str:
    """The IPv6 solicited-node multicast MAC of the link-local address the kernel derives from ``mac``."""
    return "33:33:ff:" + mac[9:]


def fdb_entry(mac: str, port: str, bridge: str) -> str:
    """A learned entry: frames for ``mac`` leave by ``port`` of ``bridge``."""
    return f"{mac} dev {port} master {bridge}"


def bridge_fdb(bridge: Interface, ports: Sequence[Interface], learned: dict[str, Sequence[str]]) -> list[str]:
    """``bridge fdb show br <bridge>``: the bridge's own multicast groups, then per port the MACs it
    learned there (``learned[port name]``), the port's own address and the port's multicast groups."""
    out = [f"{m} dev {bridge.name} self permanent" for m in
           ("33:33:00:00:00:01", "01:00:5e:00:00:6a", "33:33:00:00:00:6a", "01:00:5e:00:00:01",
            _solicited(bridge.mac))]
    out.append(f"{bridge.mac} dev {bridge.name} master {bridge.name} permanent")  # its own address, set by hand
    for p in ports:
        out += [fdb_entry(m, p.name, bridge.name) for m in learned.get(p.name, ())]
        out.append(f"{p.mac} dev {p.name} master {bridge.name} permanent")
        out += [f"{m} dev {p.name} self permanent" for m in
                ("33:33:00:00:00:01", "01:00:5e:00:00:01", _solicited(p.mac))]
    return out


# --------------------------------------------------------------------------- ip neigh
def neigh_line(ip: IPv4Address, dev: str, mac: str, state: str = "STALE") -> str:
    return f"{ip} dev {dev} lladdr {mac} {state}"


# --------------------------------------------------------------------------- conntrack -L
_PROTO_NUM = {"tcp": 6, "udp": 17, "sctp": 132}


def conntrack_line(protocol: str, orig: tuple, reply: tuple, state: str = "ESTABLISHED",
                   timeout: int | None = None, assured: bool = True, unreplied: bool = False) -> str:
    """One entry as ``conntrack -L`` prints it: the original tuple, then the reply tuple the
    kernel expects back (the NAT it applied shows as the difference between the two).

    ``orig`` and ``reply`` are ``(src, dst, sport, dport)``.
    """
    num = _PROTO_NUM[protocol]
    if timeout is None:
        timeout = {"ESTABLISHED": 431999 if protocol == "tcp" else 209, "SYN_SENT": 119, "CLOSE": 9}.get(state, 119)
        if protocol == "udp":
            timeout = 119 if assured else 29
    head = f"{protocol:<8} {num} {timeout} " + ("" if protocol == "udp" else f"{state} ")
    o = f"src={orig[0]} dst={orig[1]} sport={orig[2]} dport={orig[3]} "
    r = f"src={reply[0]} dst={reply[1]} sport={reply[2]} dport={reply[3]} "
    flags = ("[UNREPLIED] " if unreplied else "")
    return head + o + flags + r + ("[ASSURED] " if assured else "") + "mark=0 use=1"


def conntrack_footer(count: int) -> str:
    return f"conntrack v{CONNTRACK_VERSION} (conntrack-tools): {count} flow entries have been shown."


# --------------------------------------------------------------------------- hosts around the cluster
def host_routes(ip: IPv4Address, prefixlen: int, dhcp: bool) -> tuple[Route, ...]:
    """A host's ``ip route``: its subnet and a default route to the subnet's first address
    (an Azure VM learns both, and Azure's platform addresses, by DHCP)."""
    net = ipaddress.IPv4Network(f"{ip}/{prefixlen}", strict=False)
    gw = net.network_address + 1
    if not dhcp:
        return (Route(ipaddress.IPv4Network("0.0.0.0/0"), "eth0", via=gw),
                Route(net, "eth0", proto="kernel", scope="link", src=ip))
    return (
        Route(ipaddress.IPv4Network("0.0.0.0/0"), "eth0", via=gw, proto="dhcp", src=ip, metric=100),
        Route(net, "eth0", proto="kernel", scope="link", src=ip, metric=100),
        Route(ipaddress.IPv4Network(f"{gw}/32"), "eth0", proto="dhcp", scope="link", src=ip, metric=100),
        Route(ipaddress.IPv4Network("168.63.129.16/32"), "eth0", via=gw, proto="dhcp", src=ip, metric=100),
        Route(ipaddress.IPv4Network("169.254.169.254/32"), "eth0", via=gw, proto="dhcp", src=ip, metric=100),
    )


# --------------------------------------------------------------------------- Azure and kubectl tables
def outbound_rules(resource_group: str, rule: str, pool: str) -> str:
    """``az network lb outbound-rule list -g <node resource group> --lb-name kubernetes -o table``:
    AKS's one outbound rule (all protocols, ports allocated by Azure, TCP reset on, idle 30 min)."""
    return format_table(
        ("AllocatedOutboundPorts", "EnableTcpReset", "IdleTimeoutInMinutes", "Name", "Protocol",
         "ProvisioningState", "ResourceGroup"),
        [("0", "True", "30", rule, "All", "Succeeded", resource_group)],
    )


def node_pod_cidrs(rows: Sequence[tuple[str, str, str]]) -> str:
    """``kubectl get nodes -o custom-columns=NAME:.metadata.name,POD-CIDR:.spec.podCIDR,INTERNAL-IP:...``."""

    return format_kubectl(("NAME", "POD-CIDR", "INTERNAL-IP"), rows)


# --------------------------------------------------------------------------- ss -ltunp
def listening_sockets(proxy: Sequence[tuple[str, str, int]] = ()) -> list[tuple]:
    """The sockets an AKS node listens on: sshd, kubelet, kube-proxy's metrics and health
    ports, systemd-resolved's stub, and (userspace mode) kube-proxy's proxy ports
    (``proxy``: ``(protocol, listen address, port)``). Rows ``(netid, local, port, process, pid, fd)``."""
    rows = [
        ("udp", "127.0.0.53%lo", 53, "systemd-resolve", 612, 13),
        ("tcp", "127.0.0.53%lo", 53, "systemd-resolve", 612, 14),
        ("tcp", "0.0.0.0", 22, "sshd", 1021, 3),
        ("tcp", "127.0.0.1", 10248, "kubelet", 2163, 24),
        ("tcp", "127.0.0.1", 10249, "kube-proxy", 2790, 10),
        ("tcp", "*", 10250, "kubelet", 2163, 20),
        ("tcp", "*", 10256, "kube-proxy", 2790, 9),
    ]
    fd = 14
    for proto, address, port in proxy:
        rows.append((proto, "*" if address == "0.0.0.0" else address, port, "kube-proxy", 2790, fd))
        fd += 1
    return sorted(rows, key=lambda r: (r[0] != "udp", r[2], r[1]))


def format_ss(rows: Sequence[tuple]) -> str:
    """``ss -ltunp``: listening TCP and UDP sockets with their processes, columns as ss aligns them."""
    table = [("Netid", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Process")]
    for netid, local, port, proc, pid, fd in rows:
        table.append((netid, "UNCONN" if netid == "udp" else "LISTEN", "0", "0" if netid == "udp" else "4096",
                      f"{local}:{port}", "*:*" if local == "*" else "0.0.0.0:*", f'users:(("{proc}",pid={pid},fd={fd}))'))
    widths = [max(len(r[i]) for r in table) for i in range(7)]
    out = []
    for r in table:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]), r[3].ljust(widths[3]),
                 r[4].rjust(widths[4]), r[5].ljust(widths[5]), r[6]]
        out.append(" ".join(cells).rstrip())
    return "\n".join(out)


def ss_line(cluster, n: int, protocol: str, port: int) -> str:
    """The row of ``ss -ltunp`` on node ``n`` for the socket listening on ``protocol``/``port``."""
    text = cluster.ss_listen(n)
    for row in text.splitlines()[1:]:
        cells = row.split()
        if cells[0] == protocol and cells[4].rsplit(":", 1)[1] == str(port):
            return row
    return text.splitlines()[-1]
