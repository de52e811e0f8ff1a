"""The same cluster, realised in Linux network namespaces: the model checked against the kernel.

:func:`realise` turns a :class:`~netlab.cluster.Cluster` into namespaces, links, routes
and rules, all read from the model (nothing is re-derived here), and removes them on
exit::

    from netlab import linux
    from netlab.linux import agreement

    with linux.realise(c) as lab:               # root, iproute2, iptables, nftables
        print(lab.ip_route("web-0"))            # the kernel's own `ip route` in the pod
        checks = lab.check([linux.Flow("client", "web")])  # real connections, compared with traces
    report = agreement.run_all()              # every scenario and 200 random flows per mode

What is created (``<p>`` is a per-run prefix, ``nl`` and 6 hex digits, e.g. ``nl3fa9c1``):

* ``<p>-n<i>``: one namespace per node. ``eth0`` with the node's MAC and address, the
  plugin's bridge (``cbr0``, ``docker0``, ``azure0`` with ``eth0`` enslaved) or none
  (transparent mode), one veth pair per pod with the model's host-end name
  (``veth...``, ``azv...``), the model's routes with their ``proto``/``scope``/``src``/
  ``metric``, the model's MACs. Sysctls a node sets: ``net.ipv4.ip_forward=1``,
  ``net.bridge.bridge-nf-call-iptables=1`` (per namespace since Linux 5.3), each bridge
  port's hairpin flag as the model has it (kubenet's ``cbr0``: promiscuous, hairpin off as
  AKS writes it, or on with ``hairpin_mode=True``; on for ``docker0``, kubelet's fallback to
  ``hairpin-veth``, and for Azure CNI's ``azure0``), AKS's ebtables dedup chain on ``cbr0``
  (``node.ebtables()``; only where an ``ebtables`` that works with this kernel is installed,
  else the plan's notes say it was left out), ``proxy_arp=1`` on ``azv``
  ends (transparent mode and Overlay), ``route_localnet=1`` when kube-proxy's iptables
  mode answers NodePorts on 127.0.0.1; and, for the check rather than like a node,
  ``icmp_ratelimit=0`` (bursts of probes would otherwise silence some REJECTs). Then the
  node's rules: ``iptables-restore`` with
  exactly ``node.iptables_save()`` (kube-proxy's and ip-masq-agent's rules), and in
  nftables mode also ``nft -f`` with the transaction kube-proxy would send.
* ``<p>-p<i>-<k>``: pod ``k`` of node ``i``: ``lo`` and ``eth0`` (model MAC, address,
  routes; transparent pods also get the permanent neighbour entry for ``169.254.1.1``).
* ``<p>-vnet``: Azure's fabric. **This is an emulation of Azure, not of a node.** Azure
  routes every packet a NIC sends (the host's virtual switch answers ARP for every
  address), so each node's ``eth0`` is a point-to-point veth to this namespace (its end
  is ``n<i>``, MAC ``12:34:56:78:9a:bc``, holding the subnet gateway ``.1``, proxy-ARP
  on) rather than a port of one shared bridge, which would let nodes talk at layer 2 as
  no Azure VM can. Its main table holds Azure's system routes from
  ``cluster.vnet_routes()``: ``VnetLocal`` becomes a ``/32`` per NIC address (nodes, and
  Azure CNI pods ``via`` their node: native delivery) and a blackhole for the rest of
  the VNet; ``VNetPeering`` and ``VirtualNetworkGateway`` lead to the peered VM and the
  on-premises host; ``Internet`` to the internet host; ``None`` routes are blackholes.
  The route table a subnet has attached (kubenet's UDR from ``cluster.route_table()``)
  and the Overlay routing domain (each node's pod ``/24``) are tables used only for
  packets that come from a node link (``ip rule iif n<i>``): as in Azure, other subnets,
  the peering and the VPN do not see them. Azure's outbound rule is a ``SNAT`` of
  private sources to 203.0.113.10 on the way to the internet. The load balancer (floating
  IP: the destination stays the frontend address) is emulated by sending a flow to the
  node the model's load balancer chose (a ``fwmark`` per flow), so the check starts at
  that node; health probes are the model's.
* ``<p>-inet``, ``<p>-vm``, ``<p>-peer``, ``<p>-onprem``: the hosts of ``names.hosts()``
  (the internet host also holds the API server's address, the endpoint of Service
  ``kubernetes``), behind the VNet namespace as the model places them.

Probes (:mod:`netlab.linux.probe`): one server process, started inside the VNet
namespace, binds sockets inside every pod, node and host namespace (``setns``) and
answers with who it is, the address it answered on and the source it saw; clients run
per source namespace, all flows at once, each with a short timeout.

Safety: only namespaces named ``<p>-...`` are created, and every command but
``ip netns add/del`` runs inside one of them (``ip -n``, ``ip netns exec``), so the
host's routes, rules, links and firewall are never touched. Cleanup runs on leaving the
``with`` block (also after exceptions and Ctrl-C), on SIGTERM/SIGHUP and at exit;
``python -m netlab.linux cleanup`` removes what a killed run left (namespaces matching
:data:`NETNS_PATTERN` and the probe servers inside them). Probe servers stop by
themselves after ``server_seconds``; every command has a timeout.

This kernel has no IPVS module? Then IPVS mode is skipped with a reason
(:func:`kernel_support`); it is not realised either way (netlab does not load modules).

Without root, Linux, ``ip``, ``iptables-restore`` or ``nft`` it raises
:class:`~netlab.errors.EnvironmentUnavailableError` naming what is missing: on Binder
the model, the traces and the notebooks work, only this kernel check cannot run.

Pure parts (names, the command plan) run anywhere:

    >>> import netlab as nl
    >>> c = nl.Cluster.aks("kubenet", nodes=1).add_pod("web-0")
    >>> p = plan(c, prefix="nl00abcd")
    >>> p.namespaces[:3]
    ('nl00abcd-vnet', 'nl00abcd-n0', 'nl00abcd-p0-0')
    >>> [cmd.argv[:3] for cmd in p.commands() if cmd.netns is None]
    [('ip', '-batch', '-')]

Documented in ``docs/kernel-check.md``.

Size: the plan (pure: the commands that realise a cluster), its runner (batches, sysctls, cleanup on
any exit) and the flow runner share the names of namespaces, links and tables; they are one piece of
plumbing around the kernel.
"""

from __future__ import annotations

import atexit
import ipaddress
import json
import os
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..cni import dataplane as cni
from ..trace import names
from .. import scenarios
from ..azure.network import hosts, PRIVATE_RANGES
from ..errors import EnvironmentUnavailableError, NetlabError, NotFoundError
from ..model.types import Interface, Plugin, Pod, Route
from ..kubeproxy.modes import record
from ..model import images

if TYPE_CHECKING:
    from ..cluster.core import Cluster

#: Every namespace a run creates matches this; ``cleanup()`` removes only these.
NETNS_PATTERN = re.compile(r"^nl[0-9a-f]{6}-(vnet|inet|vm|peer|onprem|chk|n\d+|p\d+-\d+)$")
PREFIX_PATTERN = re.compile(r"^nl[0-9a-f]{6}$")
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.py")
AZURE_FABRIC_MAC = "12:34:56:78:9a:bc"  # the MAC Azure's virtual switch answers every ARP with
UDR_TABLE = 100  # the route table attached to the node subnet (kubenet), and Overlay's routing domain
LB_TABLE_BASE = 200  # table 200+i: the load balancer's backend is node i
LB_MARK_BASE = 0x100
NODE_PORTS = (10250,)  # what a node answers on (kubelet's port), for flows to a node
HOST_PORTS = (80, 443, 8080)
COMMAND_TIMEOUT = 120.0
_BINDER = ("On Binder (or any machine without root) the model, the traces and the notebooks still work; "
           "only this kernel check cannot run.")


class KernelError(NetlabError):
    """A command that sets up the kernel failed (the message names the command and its output)."""


# --------------------------------------------------------------------------- naming
def new_prefix() -> str:
    """A fresh run prefix: ``nl`` and 6 random hex digits.

    >>> bool(PREFIX_PATTERN.match(new_prefix()))
    True
    """
    return "nl" + secrets.token_hex(3)


def node_netns(prefix: str, node: int) -> str:
    """``<prefix>-n<i>``: the namespace of node ``i``.

    >>> node_netns("nl00abcd", 2)
    'nl00abcd-n2'
    """
    return f"{prefix}-n{node}"


def pod_netns(prefix: str, node: int, k: int) -> str:
    """``<prefix>-p<i>-<k>``: the namespace of the ``k``-th pod (oldest first) of node ``i``.

    >>> pod_netns("nl00abcd", 1, 0)
    'nl00abcd-p1-0'
    """
    return f"{prefix}-p{node}-{k}"


HOST_NETNS = {"internet": "inet", "vnet-vm": "vm", "peered-vm": "peer", "onprem-host": "onprem"}


def host_netns(prefix: str, host: str) -> str:
    """The namespace of a host around the cluster (``internet``, ``vnet-vm``, ...).

    >>> host_netns("nl00abcd", "peered-vm")
    'nl00abcd-peer'
    """
    return f"{prefix}-{HOST_NETNS[host]}"


def vnet_netns(prefix: str) -> str:
    return f"{prefix}-vnet"


def vnet_link(node: int) -> str:
    """The VNet namespace's end of node ``i``'s ``eth0`` (15 characters at most)."""
    return f"n{node}"


# --------------------------------------------------------------------------- environment
EBTABLES_HINT = ("the command 'ebtables' working with this kernel (AKS's dedup rule on kubenet's promiscuous cbr0; "
                 "Debian and Ubuntu: package iptables provides ebtables-nft, which works on any nf_tables kernel; "
                 "package ebtables holds only ebtables-legacy, which needs the kernel's old ebtables tables)")


def missing_requirements(proxy_mode: str = "iptables", optional: bool = False) -> list[str]:
    """What this machine lacks to realise a cluster, in words (empty: nothing).

    ``optional=True`` also names what a realisation can do without but is then less like a node:
    ``ebtables`` (without it, AKS's dedup chain on ``cbr0`` is left out and the plan's notes say so).
    """
    missing = []
    if not sys.platform.startswith("linux"):
        return [f"Linux (this is {sys.platform}): network namespaces are a Linux feature"]
    if optional and shutil.which("ebtables") is None:
        missing.append(EBTABLES_HINT)
    if os.geteuid() != 0:
        missing.append("root (creating network namespaces needs CAP_NET_ADMIN and CAP_SYS_ADMIN)")
    tools = {"ip": "iproute2", "iptables-restore": "iptables", "iptables-save": "iptables",
             **record(proxy_mode).kernel_tools}
    for cmd, pkg in tools.items():
        if shutil.which(cmd) is None:
            missing.append(f"the command {cmd!r} (package {pkg})")
    if not os.path.exists("/proc/sys/net/bridge/bridge-nf-call-iptables"):
        missing.append("the br_netfilter module (bridged traffic through iptables: modprobe br_netfilter)")
    if not missing and not _netns_works():
        missing.append("permission to create network namespaces ('ip netns add' failed: a container "
                       "without CAP_SYS_ADMIN, or /run/netns not writable)")
    return missing


_netns_ok: list[bool] = []


def _netns_works() -> bool:
    """Whether ``ip netns add`` works here (tried once per process, in a scratch namespace)."""
    if not _netns_ok:
        ns = f"{new_prefix()}-chk"
        r = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
        if r.returncode == 0:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)
        _netns_ok.append(r.returncode == 0)
    return _netns_ok[0]


def require(proxy_mode: str = "iptables") -> None:
    """Raise :class:`EnvironmentUnavailableError` unless a cluster can be realised here.

    A mode the registry marks as not realised (:attr:`~netlab.kubeproxy.modes.ModeRecord.not_realised`:
    IPVS, userspace) always raises, with what this kernel lacks for it when
    :func:`kernel_support` knows (the ``ip_vs`` module).
    """
    missing = missing_requirements(proxy_mode)
    if missing:
        raise EnvironmentUnavailableError(
            "netlab.linux cannot realise a cluster here: it needs " + "; ".join(missing) + ". " + _BINDER)
    rec = record(proxy_mode)
    if rec.not_realised is not None:
        kernel = kernel_support().get(rec.name)
        raise EnvironmentUnavailableError(rec.not_realised + (f"; {kernel[1]}" if kernel and not kernel[0] else ""))


_IPT_FEATURES = {
    "comment": ("filter", "-A NETLAB-CHECK -m comment --comment \"netlab\" -j ACCEPT"),
    "conntrack": ("filter", "-A NETLAB-CHECK -m conntrack --ctstate NEW,RELATED,ESTABLISHED,DNAT -j ACCEPT"),
    "addrtype": ("filter", "-A NETLAB-CHECK -m addrtype --dst-type LOCAL -j ACCEPT"),
    "mark": ("filter", "-A NETLAB-CHECK -m mark --mark 0x4000/0x4000 -j ACCEPT"),
    "REJECT": ("filter", "-A NETLAB-CHECK -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable"),
    "statistic": ("nat", "-A NETLAB-CHECK -m statistic --mode random --probability 0.5 -j RETURN"),
    "recent": ("nat", "-A NETLAB-CHECK -m recent --rcheck --seconds 10800 --reap --name NETLAB --mask 255.255.255.255 "
                      "--rsource -j RETURN"),
    "DNAT": ("nat", "-A NETLAB-CHECK -p tcp -m tcp -j DNAT --to-destination 10.0.0.1:80"),
    "MASQUERADE --random-fully": ("nat", "-A NETLAB-CHECK -j MASQUERADE --random-fully"),
    "MARK": ("nat", "-A NETLAB-CHECK -j MARK --set-xmark 0x4000/0x4000"),
    "physdev": ("filter", "-A NETLAB-CHECK -m physdev --physdev-is-bridged -j ACCEPT"),
}
_NFT_CHECK = """add table ip netlab-check
add chain ip netlab-check nat-prerouting { type nat hook prerouting priority -100 ; }
add map ip netlab-check m { type ipv4_addr . inet_proto . inet_service : verdict ; }
add chain ip netlab-check c
add rule ip netlab-check c numgen random mod 2 vmap { 0 : accept, 1 : accept }
add rule ip netlab-check nat-prerouting ct state new fib daddr type local ip daddr . meta l4proto . th dport vmap @m
add rule ip netlab-check c meta mark set meta mark | 0x00004000
add rule ip netlab-check c masquerade fully-random
add rule ip netlab-check c reject
"""
_support_cache: dict[str, tuple[bool, str]] = {}


def kernel_support(refresh: bool = False) -> dict[str, tuple[bool, str]]:
    """Which kernel features the realisation needs are here: ``{feature: (ok, reason)}``.

    Tried for real in a scratch namespace (``<prefix>-chk``, removed at once): each
    iptables match and target kube-proxy's rules use, an nftables table like
    kube-proxy's, and IPVS (the ``ip_vs`` module: ``/proc/net/ip_vs``).
    """
    if _support_cache and not refresh:
        return dict(_support_cache)
    missing = missing_requirements("iptables")
    if missing:
        return {"environment": (False, "; ".join(missing))}
    ns = f"{new_prefix()}-chk"
    out: dict[str, tuple[bool, str]] = {}
    _run(("ip", "netns", "add", ns))
    try:
        for name, (table, line) in _IPT_FEATURES.items():
            text = f"*{table}\n:NETLAB-CHECK - [0:0]\n{line}\nCOMMIT\n"
            r = _run(_exec(ns, "iptables-restore"), stdin=text, check=False)
            out[name] = (r.returncode == 0, "ok" if r.returncode == 0 else r.stderr.strip().splitlines()[0]
                         if r.stderr.strip() else f"iptables-restore exit {r.returncode}")
        if shutil.which("nft"):
            r = _run(_exec(ns, "nft", "-f", "-"), stdin=_NFT_CHECK, check=False)
            out["nftables"] = (r.returncode == 0, "ok" if r.returncode == 0 else r.stderr.strip()[:300])
        else:
            out["nftables"] = (False, "the command 'nft' (package nftables) is not installed")
        r = _run(_exec(ns, "test", "-e", "/proc/net/ip_vs"), check=False)
        if r.returncode == 0:
            out["ipvs"] = (True, "the ip_vs module is loaded")
        else:
            out["ipvs"] = (False, "this kernel has no IPVS (no ip_vs module: /proc/net/ip_vs is missing), so "
                                  "IPVS mode cannot run here; iptables and nftables modes are checked")
        out["br_netfilter"] = (os.path.exists("/proc/sys/net/bridge/bridge-nf-call-iptables"),
                               "per-namespace net.bridge.bridge-nf-call-iptables")
        if shutil.which("ebtables"):
            r = _run(_exec(ns, "ebtables", "-t", "filter", "-L"), check=False)
            out["ebtables"] = (r.returncode == 0, "ok: AKS's dedup chain on cbr0 is realised" if r.returncode == 0
                               else f"{(r.stderr or r.stdout).strip()[:200]}: AKS's dedup chain is left out")
        else:
            out["ebtables"] = (False, f"missing {EBTABLES_HINT}: AKS's dedup chain is left out")
        out["self-hairpin"] = self_hairpin_support()
    finally:
        _run(("ip", "netns", "del", ns), check=False)
    _support_cache.clear()
    _support_cache.update(out)
    return out


def self_hairpin_support(release: str | None = None) -> tuple[bool, str]:
    """Which node image's kernel this kernel behaves like for a pod reaching itself through its own
    Service on kubenet (:func:`netlab.model.images.matching_image`); ``ok`` is False when none is known.

    The claim is checked by ``tests/test_linux_hairpin.py``, which measures it.
    """
    import platform


    release = platform.release() if release is None else release
    img = images.matching_image(release)
    if img is None:
        return False, (f"Linux {release}: no node image's kernel is known to behave like it (between "
                       f"{images.LAST_PASSED_UP[0]}.{images.LAST_PASSED_UP[1]} and "
                       f"{images.FIRST_STAYS_BRIDGED[0]}.{images.FIRST_STAYS_BRIDGED[1]})")
    off = images.self_hairpin(img, hairpin_mode=False, promisc=True)[0]
    return True, (f"Linux {release} matches {img} by version: a pod to its own Service on kubenet is "
                  f"{'connected' if off else 'dropped (times out)'} with hairpin off on cbr0 (AKS), connected with "
                  "hairpin on (measure: python -m netlab.linux hairpin)")


def hairpin_cluster(proxy_mode: str = "iptables", hairpin_mode: bool = False) -> "Cluster":
    """The smallest cluster where a pod can reach itself through its own Service
    (:func:`netlab.scenarios.hairpin_repro`), in ``proxy_mode``."""
    return scenarios.hairpin_repro(hairpin_mode).with_proxy_mode(proxy_mode)


def measure_self_hairpin(proxy_mode: str = "iptables", hairpin_mode: bool = False, tries: int = 3,
                         timeout: float = 2.0) -> list[dict]:
    """Realise :func:`hairpin_cluster` and connect from ``web-0`` to Service ``web``'s ClusterIP
    ``tries`` times (each probe a new connection); return the probe results (``status``: ``answered``,
    ``timeout``, ...; ``answer["peer"]``: the source the pod saw). Needs root (see :func:`require`).

    It probes directly, without a trace, so it measures the kernel alone.
    """
    c = hairpin_cluster(proxy_mode, hairpin_mode)
    vip = str(c.services["web"].cluster_ip)
    probes = [{"id": k, "to": vip, "port": 80, "proto": "tcp", "timeout": timeout, "sport": 21000 + k}
              for k in range(tries)]
    with realise(c) as lab:
        out = lab.run("web-0", sys.executable, "-I", PROBE, "batch",
                      stdin="".join(json.dumps(p) + "\n" for p in probes))
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# --------------------------------------------------------------------------- commands
@dataclass(frozen=True)
class Command:
    """One command of a plan: ``argv`` runs with ``stdin``; ``netns`` is where it acts
    (``None`` only for ``ip netns add/del``, which touch nothing but ``/run/netns``)."""

    netns: str | None
    argv: tuple[str, ...]
    stdin: str = ""
    what: str = ""


def _exec(ns: str, *argv: str) -> tuple[str, ...]:
    return ("ip", "netns", "exec", ns, *argv)


def _ip_batch(ns: str, lines: Sequence[str], what: str) -> Command:
    return Command(ns, ("ip", "-n", ns, "-batch", "-"), "".join(line + "\n" for line in lines), what)


def _sysctls(ns: str, values: dict[str, str], what: str) -> Command:
    """Write sysctls inside ``ns`` (``/proc/sys/net`` is per namespace)."""
    script = " && ".join(f"echo {v} > /proc/sys/{k.replace('.', '/')}" for k, v in values.items())
    return Command(ns, _exec(ns, "sh", "-c", script), "", what)


def _run(argv: Sequence[str], stdin: str = "", check: bool = True, timeout: float = COMMAND_TIMEOUT,
         what: str = "") -> subprocess.CompletedProcess:
    try:
        r = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise KernelError(f"{what or ' '.join(argv[:6])}: no result within {timeout:.0f} s") from None
    except FileNotFoundError as err:
        raise EnvironmentUnavailableError(f"the command {argv[0]!r} is not installed. {_BINDER}") from err
    if check and r.returncode != 0:
        raise KernelError(f"{what or ' '.join(argv[:6])} failed (exit {r.returncode}): "
                          f"{(r.stderr or r.stdout).strip()[:2000]}")
    return r


# --------------------------------------------------------------------------- the plan
def _route_cmd(r: Route, table: int | None = None) -> str:
    """``route add`` for a model route; the kernel then prints it as the model does.

    A route without ``via`` and without a scope is added with ``scope global``
    (``ip route add`` would pick ``scope link``; Azure CNI adds its ``/32`` routes through
    netlink with scope 0, universe, which ``ip route`` does not print).
    """
    parts = ["route", "add", str(r.dst) if r.dst.prefixlen else "default"]
    if r.via is not None:
        parts += ["via", str(r.via)]
    parts += ["dev", r.dev]
    if r.proto:
        parts += ["proto", r.proto]
    if r.scope:
        parts += ["scope", r.scope]
    elif r.via is None:
        parts += ["scope", "global"]
    if r.src is not None:
        parts += ["src", str(r.src)]
    if r.metric is not None:
        parts += ["metric", str(r.metric)]
    if table is not None:
        parts += ["table", str(table)]
    return " ".join(parts)


def _address_lines(iface: Interface, routes: Sequence[Route]) -> list[str]:
    """``addr add`` lines; the prefix route comes from the kernel only if the model has it."""
    out = []
    for a in iface.addresses:
        if iface.name == "lo":
            continue
        kernel = [r for r in routes if r.proto == "kernel" and r.dev == iface.name and r.dst == a.network]
        line = f"addr add {a.with_prefixlen}"
        if iface.broadcast and a.network.prefixlen < 31:
            line += " brd +"
        line += f" dev {iface.name}"
        if not kernel:
            line += " noprefixroute"
        elif kernel[0].metric is not None:
            line += f" metric {kernel[0].metric}"
        out.append(line)
    return out


def _route_lines(routes: Sequence[Route]) -> list[str]:
    # The kernel makes the proto-kernel routes from the addresses; routes without a
    # gateway first, so every gateway is reachable when its route is added.
    mine = [r for r in routes if r.proto != "kernel"]
    return [_route_cmd(r) for r in sorted(mine, key=lambda r: r.via is not None)]


def _link_lines(iface: Interface) -> list[str]:
    lines = []
    if iface.kind != "loopback":
        lines.append(f"link set {iface.name} address {iface.mac}")
        if iface.mtu != 1500:
            lines.append(f"link set {iface.name} mtu {iface.mtu}")
        if iface.promisc:
            lines.append(f"link set {iface.name} promisc on")
        if not iface.multicast:
            lines.append(f"link set {iface.name} multicast off")
        if iface.kind == "veth" and iface.qlen is None:
            lines.append(f"link set {iface.name} txqueuelen 0")  # the bridge plugin's veths: no qlen printed
    return lines


@dataclass(frozen=True)
class Plan:
    """Everything :func:`realise` will run, as data (pure: built from the model alone).

    ``phases``: lists of commands; the commands of one phase are independent of each
    other, the phases run in order. ``namespaces``: every namespace created, in order.
    ``pods``: ``(namespace, name) -> netns``; ``nodes``: node index -> netns;
    ``hosts``: host name -> netns; ``servers``: netns -> (name, tcp ports, udp ports).
    """

    prefix: str
    namespaces: tuple[str, ...]
    phases: tuple[tuple[Command, ...], ...]
    pods: dict[tuple[str, str], str]
    nodes: dict[int, str]
    hosts: dict[str, str]
    servers: dict[str, tuple[str, tuple[int, ...], tuple[int, ...]]]
    lb_ips: tuple[Any, ...] = ()
    notes: tuple[str, ...] = ()

    def commands(self) -> list[Command]:
        return [cmd for phase in self.phases for cmd in phase]


def pods_by_key(cluster: "Cluster") -> dict[tuple[str, str], Pod]:
    """Every pod by ``(namespace, name)``, from ``cluster.pods_on`` (node by node, oldest first)."""
    return {p.key: p for i in range(cluster.node_count) for p in cluster.pods_on(i)}


def _external_endpoint_ips(cluster: "Cluster") -> list[Any]:
    """Service endpoints outside the cluster (the API server behind ``kubernetes``)."""
    out = []
    for name in cluster.services:
        for ep in cluster.services[name].endpoints:
            ip = ipaddress.IPv4Address(ep.rpartition(":")[0])
            if not cluster.owners(ip) and not any(ip in r for r in PRIVATE_RANGES) and ip not in out:
                out.append(ip)
    return out


def proxy_rules(cluster: "Cluster", n: int) -> tuple[str, str | None]:
    """``(iptables-restore text, nft -f text or None)`` for node ``n``, from the model.

    The iptables text is ``node.iptables_save()`` (kube-proxy's rules in the modes that keep
    iptables rules, and ip-masq-agent's in every mode). For a mode that writes nftables (the
    registry in :mod:`netlab.kubeproxy.modes` names its ``nft_input`` form) the nft text is the
    transaction kube-proxy sends.
    """

    save = cluster.nodes[n].iptables_save() + "\n"
    rec = record(cluster.proxy_mode)
    if rec.nft_input is None:
        return save, None
    return save, rec.render(cluster.node_proxy(n).extra, rec.nft_input)


def _ebtables_script(rules: Sequence["cni.BridgeRule"]) -> str:
    """``ebtables`` commands that create the rules' chains and append the rules (as AKS's script does)."""
    builtin = ("INPUT", "FORWARD", "OUTPUT")
    cmds = [f"ebtables -t filter -N {c}" for c in dict.fromkeys(r.chain for r in rules) if c not in builtin]
    cmds += [f"ebtables -t filter -A {r.chain} {r}" for r in rules if r.chain not in builtin]
    cmds += [f"ebtables -t filter -A {r.chain} {r}" for r in rules if r.chain in builtin]
    return " && ".join(cmds)


def plan(cluster: "Cluster", prefix: str | None = None, ebtables: bool | None = None) -> Plan:
    """The commands that realise ``cluster`` (pure: no command runs here).

    ``ebtables``: whether to load AKS's ebtables dedup chain (kubenet); ``None`` means "if the
    command ``ebtables`` is installed". Left out, the plan's ``notes`` say so.
    """
    from ..azure.lb import OUTBOUND_PUBLIC_IP

    if ebtables is None:
        ebtables = shutil.which("ebtables") is not None

    prefix = prefix or new_prefix()
    if not PREFIX_PATTERN.match(prefix):
        raise NetlabError(f"prefix {prefix!r} must be 'nl' and 6 hex digits, e.g. {new_prefix()!r}")
    cfg = cluster.config
    vnet = vnet_netns(prefix)
    nodes = {i: node_netns(prefix, i) for i in range(cluster.node_count)}
    pods: dict[tuple[str, str], str] = {}
    for i in range(cluster.node_count):
        for k, pod in enumerate(cluster.pods_on(i)):
            pods[pod.key] = pod_netns(prefix, i, k)
    host_objs = hosts(cluster.config)
    host_ns = {name: host_netns(prefix, name) for name in HOST_NETNS}
    namespaces = (vnet, *nodes.values(), *pods.values(), *host_ns.values())
    create = (Command(None, ("ip", "-batch", "-"), "".join(f"netns add {ns}\n" for ns in namespaces),
                      "create the namespaces"),)

    # ---- the VNet namespace: Azure's fabric (an emulation of Azure, not of a node)
    gw = cni.subnet_gateway(cfg)
    v = ["link set lo up"]
    for i, ns in nodes.items():
        node = cluster.node_record(i)
        link = vnet_link(i)
        v += [f"link add {link} type veth peer name eth0 netns {ns}",
              f"link set {link} address {AZURE_FABRIC_MAC}",
              f"addr add {gw}/32 dev {link}",
              f"link set {link} up",
              f"route add {node.ip}/32 dev {link} src {gw}"]
    host_links = {}
    for name, ns in host_ns.items():
        link = HOST_NETNS[name]
        host_links[name] = link
        h = host_objs[name]
        if name == "internet":
            here = ipaddress.IPv4Interface(f"{h.ip}/24")
        elif name == "vnet-vm":
            here = ipaddress.IPv4Interface(f"{h.ip}/{cfg.subnet_cidr.prefixlen}")
        elif name == "peered-vm":
            here = ipaddress.IPv4Interface(f"{h.ip}/{cfg.peered_cidr.prefixlen}")
        else:
            here = ipaddress.IPv4Interface(f"{h.ip}/{cfg.onprem_cidr.prefixlen}")
        gw_h = here.network.network_address + 1
        v += [f"link add {link} type veth peer name eth0 netns {ns}",
              f"link set {link} address {AZURE_FABRIC_MAC}",
              f"addr add {gw_h}/32 dev {link}",
              f"link set {link} up",
              f"route add {h.ip}/32 dev {link} src {gw_h}"]
    # Azure's system routes (the node subnet's effective routes without the route table).
    for r in cluster.vnet_routes():
        if r.source == "User" or not r.active:
            continue
        dst = r.address_prefix
        if r.next_hop_type == "VnetLocal":
            v.append(f"route add blackhole {dst}")  # no NIC has the address: dropped
        elif r.next_hop_type == "VNetPeering":
            v.append(f"route add {dst} via {host_objs['peered-vm'].ip} dev {host_links['peered-vm']}")
        elif r.next_hop_type == "VirtualNetworkGateway":
            v.append(f"route add {dst} via {host_objs['onprem-host'].ip} dev {host_links['onprem-host']}")
        elif r.next_hop_type == "Internet":
            v.append(f"route add default via {host_objs['internet'].ip} dev {host_links['internet']}")
        elif r.next_hop_type == "None":
            v.append(f"route add blackhole {dst}")
    # Azure CNI: every pod address is a NIC address: native delivery to its node.
    pod_objs = pods_by_key(cluster)
    if cfg.plugin is Plugin.AZURE_CNI:
        for key in pods:
            pod = pod_objs[key]
            node = cluster.node_record(pod.node)
            v.append(f"route add {pod.ip}/32 via {node.ip} dev {vnet_link(pod.node)}")
    # The node subnet's route table (kubenet) and Overlay's routing domain: only for node links.
    udr = []
    if cfg.plugin is Plugin.KUBENET:
        for r in cluster.route_table():
            owner = cluster.owners(r.next_hop_ip)
            dev = vnet_link(owner[0].index) if owner else None
            udr.append(f"route add {r.address_prefix} via {r.next_hop_ip}" + (f" dev {dev}" if dev else "")
                       + f" table {UDR_TABLE}")
    elif cfg.plugin is Plugin.AZURE_CNI_OVERLAY:
        for i in nodes:
            node = cluster.node_record(i)
            udr.append(f"route add {node.pod_cidr} via {node.ip} dev {vnet_link(i)} table {UDR_TABLE}")
    v += udr
    if udr:
        v += [f"rule add iif {vnet_link(i)} lookup {UDR_TABLE} pref 1000" for i in nodes]
    # From the internet only public addresses are reachable: ignore the default route.
    v += [f"rule add iif {host_links['internet']} lookup main suppress_prefixlength 0 pref 1100",
          f"rule add iif {host_links['internet']} blackhole pref 1101"]
    # The load balancer: frontends are dropped unless a flow is marked for a backend node.
    lb_ips = []
    for name in cluster.services:
        ip = cluster.services[name].load_balancer_ip
        if ip is not None:
            lb_ips.append(ip)
            v.append(f"route add blackhole {ip}/32")
    for i in nodes:
        node = cluster.node_record(i)
        v += [f"route add default via {node.ip} dev {vnet_link(i)} table {LB_TABLE_BASE + i}",
              f"rule add fwmark {LB_MARK_BASE + i} lookup {LB_TABLE_BASE + i} pref 900"]
    vnet_cmds = [_ip_batch(vnet, v, "wire the VNet namespace")]

    # ---- nodes and pods
    node_cmds, pod_cmds, sysctl_cmds, rule_cmds = [], [], [], []
    notes = []
    for i, ns in nodes.items():
        node = cluster.node_record(i)
        dp = cluster.node_dataplane(i)
        lines = ["link set lo up"]
        ifs = {f.name: f for f in dp.interfaces}
        for f in dp.interfaces:
            if f.kind == "bridge":
                lines.append(f"link add {f.name} type bridge")
        for k, pod in enumerate(cluster.pods_on(i)):
            pdp = cluster.pod_dataplane(pod)
            lines.append(f"link add {pdp.host_if} type veth peer name eth0 netns {pods[pod.key]}")
        for f in dp.interfaces:
            lines += _link_lines(f)
        for f in dp.interfaces:
            if f.master:
                lines.append(f"link set {f.name} master {f.master}")
        for f in dp.interfaces:
            lines += _address_lines(f, dp.routes)
        for f in dp.interfaces:
            if f.kind != "loopback":
                lines.append(f"link set {f.name} up")
        if dp.bridge:
            # Each port's hairpin flag as the model has it (cni.port_hairpin): whether the bridge
            # may send a frame back out of the port it came in on, which a pod reaching itself
            # through a Service needs on kernels from 6.8 (netlab.model.images).
            lines += [f"link set {f.name} type bridge_slave hairpin {'on' if f.hairpin else 'off'}"
                      for f in dp.interfaces if f.master == dp.bridge and f.hairpin is not None]
        lines += _route_lines(dp.routes)
        node_cmds.append(_ip_batch(ns, lines, f"wire node {node.name}"))
        # icmp_ratelimit=0: the check sends bursts of probes, and a real node's limit (one
        # ICMP error per second per destination after a short burst) would silence some of
        # kube-proxy's REJECTs; every REJECT here answers, as it does for a single client.
        sysctls = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.send_redirects": "0",
                   "net.ipv4.icmp_ratelimit": "0"}
        if dp.bridge:
            sysctls["net.bridge.bridge-nf-call-iptables"] = "1"
        for f in dp.interfaces:
            if f.name.startswith("azv") and f.master is None:
                sysctls[f"net.ipv4.conf.{f.name}.proxy_arp"] = "1"
                sysctls[f"net.ipv4.neigh.{f.name}.proxy_delay"] = "0"
        sysctls.update(cluster.node_proxy(i).sysctls)  # kube-proxy's own (iptables mode: route_localnet)
        sysctl_cmds.append(_sysctls(ns, sysctls, f"sysctls of node {node.name}"))
        save, nft = proxy_rules(cluster, i)
        rule_cmds.append(Command(ns, _exec(ns, "iptables-restore"), save,
                                 f"iptables-restore of node {node.name}'s iptables-save"))
        if nft is not None:
            rule_cmds.append(Command(ns, _exec(ns, "nft", "-f", "-"), nft,
                                     f"nft -f of kube-proxy's transaction on node {node.name}"))
        if dp.bridge_rules:
            if ebtables:
                # In the sysctl phase, not with iptables-restore and nft -f: ebtables-nft, too, is an
                # nf_tables transaction, and two at once in one namespace make one of them fail.
                sysctl_cmds.append(Command(ns, _exec(ns, "sh", "-c", _ebtables_script(dp.bridge_rules)), "",
                                           f"AKS's ebtables dedup chain on node {node.name}"))
            elif not any(cni.DEDUP_CHAIN in n for n in notes):
                notes.append(f"{cni.DEDUP_CHAIN} (AKS's ebtables dedup chain on cbr0) is left out: {EBTABLES_HINT} "
                             "is missing")
        for k, pod in enumerate(cluster.pods_on(i)):
            pdp = cluster.pod_dataplane(pod)
            pl = ["link set lo up"]
            for f in pdp.interfaces:
                pl += _link_lines(f)
            for f in pdp.interfaces:
                pl += _address_lines(f, pdp.routes)
            pl.append("link set eth0 up")
            pl += _route_lines(pdp.routes)
            if pdp.gateway == cni.LINK_GATEWAY:
                # Azure CNI writes a permanent neighbour for the link-local gateway: the host end's MAC.
                pl.append(f"neigh add {cni.LINK_GATEWAY} lladdr {ifs[pdp.host_if].mac} dev eth0 nud permanent")
            pod_cmds.append(_ip_batch(pods[pod.key], pl, f"wire pod {pod.namespace}/{pod.name}"))

    # ---- hosts around the cluster
    host_cmds = []
    external = _external_endpoint_ips(cluster)
    for name, ns in host_ns.items():
        h = host_objs[name]
        if name == "internet":
            net = ipaddress.IPv4Network(f"{h.ip}/24", strict=False)
        elif name == "vnet-vm":
            net = ipaddress.IPv4Network(f"{h.ip}/{cfg.subnet_cidr.prefixlen}", strict=False)
        elif name == "peered-vm":
            net = cfg.peered_cidr
        else:
            net = cfg.onprem_cidr
        gw_h = net.network_address + 1
        hl = ["link set lo up", f"addr add {h.ip}/{net.prefixlen} brd + dev eth0", "link set eth0 up"]
        if name == "internet":
            hl += [f"addr add {ip}/32 dev eth0" for ip in external]
            hl += [f"route add blackhole {p}" for p in PRIVATE_RANGES]  # the internet routes no private address
            hl.append(f"route add default via {gw_h} dev eth0")
        elif name == "vnet-vm":
            hl.append(f"route add default via {gw_h} dev eth0")
        else:
            # The peering and the VPN carry the cluster VNet's address space and nothing else.
            hl.append(f"route add {cfg.vnet_cidr} via {gw_h} dev eth0")
        host_cmds.append(_ip_batch(ns, hl, f"wire host {name}"))
    vnet_sysctls = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.send_redirects": "0"}
    for link in [vnet_link(i) for i in nodes] + list(host_links.values()):
        vnet_sysctls[f"net.ipv4.conf.{link}.proxy_arp"] = "1"
        vnet_sysctls[f"net.ipv4.neigh.{link}.proxy_delay"] = "0"
    sysctl_cmds.append(_sysctls(vnet, vnet_sysctls, "sysctls of the VNet namespace"))
    snat = "".join(f"-A POSTROUTING -s {p} -o {host_links['internet']} -j SNAT --to-source {OUTBOUND_PUBLIC_IP}\n"
                   for p in PRIVATE_RANGES)
    vnet_rules = ("*mangle\n:NETLAB-LB - [0:0]\n-A PREROUTING -j NETLAB-LB\nCOMMIT\n"
                  f"*nat\n{snat}COMMIT\n")
    rule_cmds.append(Command(vnet, _exec(vnet, "iptables-restore"), vnet_rules,
                             "Azure's outbound SNAT and the load balancer's marks (VNet namespace)"))

    # ---- probe servers: what each pod declares, kubelet's port on nodes, web ports on hosts
    servers: dict[str, tuple[str, tuple[int, ...], tuple[int, ...]]] = {}
    for (ns_name, pod_name), ns in pods.items():
        pod = pod_objs[(ns_name, pod_name)]
        tcp = sorted({p.port for c in pod.containers for p in c.ports if p.protocol == "TCP"})
        udp = sorted({p.port for c in pod.containers for p in c.ports if p.protocol == "UDP"})
        servers[ns] = (f"pod:{ns_name}/{pod_name}", tuple(tcp), tuple(udp))
    for i, ns in nodes.items():
        servers[ns] = (f"node:{i}", NODE_PORTS, ())
    for name, ns in host_ns.items():
        servers[ns] = (f"host:{name}", HOST_PORTS, (53,))

    phases = (create, tuple(vnet_cmds), tuple(node_cmds), tuple(pod_cmds + host_cmds),
              tuple(sysctl_cmds), tuple(rule_cmds))
    return Plan(prefix, namespaces, phases, pods, nodes, host_ns, servers, tuple(lb_ips), tuple(notes))


# --------------------------------------------------------------------------- cleanup
def list_netns() -> list[str]:
    r = _run(("ip", "netns", "list"), check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def _netns_pids(ns: str) -> list[int]:
    r = _run(("ip", "netns", "pids", ns), check=False)
    return [int(p) for p in r.stdout.split() if p.isdigit()]


def _is_probe(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return PROBE.encode() in fh.read()
    except OSError:
        return False


def cleanup(prefix: str | None = None, dry_run: bool = False) -> list[str]:
    """Remove namespaces a netlab run left behind; return their names.

    Only names matching :data:`NETNS_PATTERN` (and ``prefix``, if given) are touched;
    probe servers still running inside them are stopped (they would stop by themselves
    after their ``--seconds``). Deleting a namespace removes its links and rules with it.
    """
    if prefix is not None and not PREFIX_PATTERN.match(prefix):
        raise NetlabError(f"prefix {prefix!r} is not a netlab run prefix ('nl' and 6 hex digits)")
    names = [ns for ns in list_netns() if NETNS_PATTERN.match(ns) and (prefix is None or ns.startswith(prefix + "-"))]
    if dry_run or not names:
        return names
    for ns in names:
        for pid in _netns_pids(ns):
            if _is_probe(pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
    _run(("ip", "-force", "-batch", "-"), "".join(f"netns del {ns}\n" for ns in names), check=False)
    return names


# --------------------------------------------------------------------------- flows and observations
@dataclass(frozen=True)
class Flow:
    """One connection to try: ``src`` and ``dst`` in :meth:`Cluster.trace`'s words."""

    src: str
    dst: str
    port: int | None = None
    protocol: str = "tcp"
    note: str = ""

    def trace(self, cluster: "Cluster", **kw: Any):
        return cluster.trace(self.src, self.dst, port=self.port, protocol=self.protocol, **kw)

    def __str__(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.src} -> {self.dst}{port}/{self.protocol}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Observation:
    """What the kernel did with one flow.

    ``status``: ``answered``, ``refused``, ``timeout``, ``unreachable`` or ``error``;
    ``answerer``: the server's name (``pod:<ns>/<name>``, ``node:<i>``, ``host:<name>``);
    ``local``: the address and port it answered on; ``peer``: the source it saw;
    ``lb_node``: the node the emulated Azure load balancer sent the flow to.
    """

    flow: Flow
    netns: str
    to: tuple[str, int]
    status: str
    answerer: str | None = None
    local: tuple[str, int] | None = None
    peer: tuple[str, int] | None = None
    lb_node: int | None = None
    detail: str = ""
    elapsed: float = 0.0

    @property
    def answered(self) -> bool:
        return self.status == "answered"


def lb_node_of(cluster: "Cluster", trace: Any) -> int | None:
    """The node a trace's Azure load balancer chose, or ``None`` if it passed no load balancer."""
    for k, hop in enumerate(trace.hops):
        if hop.place.kind == "load balancer":
            for later in trace.hops[k + 1:]:
                if later.place.kind == "node":
                    return cluster.nodes[later.place.name].index
            return None
    return None


# --------------------------------------------------------------------------- the realised cluster
_live: set["LinuxCluster"] = set()
_live_lock = threading.Lock()


def _cleanup_all() -> None:
    for lab in list(_live):
        lab.close()


atexit.register(_cleanup_all)


class LinuxCluster:
    """A cluster realised in network namespaces. Use :func:`realise` in a ``with`` block."""

    def __init__(self, cluster: "Cluster", *, prefix: str | None = None, servers: bool = True,
                 server_seconds: float = 600.0, workers: int = 4) -> None:
        self.cluster = cluster
        self.plan = plan(cluster, prefix)
        self.prefix = self.plan.prefix
        self.servers = servers
        self.server_seconds = server_seconds
        self.workers = workers
        self._procs: list[subprocess.Popen] = []
        self._created = False
        self._closed = False
        self._old_handlers: dict[int, Any] = {}
        self._sport = 20000
        self.build_seconds = 0.0
        self.teardown_seconds = 0.0
        self.timings: dict[str, float] = {}  # seconds per step of start()

    # -- life cycle
    def __enter__(self) -> "LinuxCluster":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def stop(signum, _frame):  # noqa: ANN001 - signal handler
            raise SystemExit(128 + signum)  # unwinds the with block, which cleans up

        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                self._old_handlers[sig] = signal.signal(sig, stop)
            except (ValueError, OSError):  # pragma: no cover - not the main thread
                pass

    def _restore_signals(self) -> None:
        for sig, old in self._old_handlers.items():
            try:
                signal.signal(sig, old)
            except (ValueError, OSError, TypeError):  # pragma: no cover
                pass
        self._old_handlers.clear()

    def start(self) -> None:
        require(self.cluster.config.proxy_mode.value)
        t0 = time.perf_counter()
        with _live_lock:
            _live.add(self)
        self._install_signals()
        try:
            self._created = True
            names = ("namespaces", "vnet", "nodes", "pods and hosts", "sysctls", "rules")
            for name, phase in zip(names, self.plan.phases):
                t = time.perf_counter()
                self._run_phase(phase)
                self.timings[name] = time.perf_counter() - t
            t = time.perf_counter()
            if self.servers:
                self._start_servers()
            self._wait_links_up()
            self.timings["links up"] = time.perf_counter() - t
            t = time.perf_counter()
            if self.servers:
                self._wait_servers()
            self.timings["servers"] = time.perf_counter() - t
        except BaseException:
            self.close()
            raise
        self.build_seconds = time.perf_counter() - t0

    def _run_phase(self, phase: Sequence[Command]) -> None:
        def one(cmd: Command) -> None:
            _run(cmd.argv, cmd.stdin, what=cmd.what)

        if len(phase) == 1:
            one(phase[0])
            return
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for fut in [pool.submit(one, cmd) for cmd in phase]:
                fut.result()

    def _wait_links_up(self, limit: float = 5.0) -> None:
        """Wait until every link is operationally up (bounded by ``limit`` seconds).

        The kernel applies carrier changes through its link-watch worker, which delays
        non-urgent events by up to a second; a bridge port stays ``disabled`` until then
        and drops what it gets. A veth pair whose two ends have the same ifindex in their
        namespaces (``eth0@if2`` seen from either side) is such a non-urgent case.
        """
        pending = set(self.plan.namespaces)
        deadline = time.monotonic() + limit
        while pending and time.monotonic() < deadline:
            for ns in sorted(pending):
                out = _run(("ip", "-n", ns, "-br", "link"), check=False).stdout
                # Only veth ends ("name@ifN"): a bridge without ports has no carrier, rightly.
                if not any(line.split()[1] != "UP" for line in out.splitlines()
                           if len(line.split()) > 1 and "@" in line.split()[0]):
                    pending.discard(ns)
            if pending:
                time.sleep(0.05)
        if pending:
            raise KernelError(f"links still down after {limit:.0f} s in {', '.join(sorted(pending))}")

    def _start_servers(self) -> None:
        """One probe server process for the whole run; its sockets live in each namespace.

        It starts inside the VNet namespace (``ip netns exec``), enters every pod, node and
        host namespace to bind that namespace's ports there, and serves them all.
        """
        spec = [{"netns": f"/run/netns/{ns}", "name": name, "tcp": list(tcp), "udp": list(udp)}
                for ns, (name, tcp, udp) in self.plan.servers.items()]
        argv = [*_exec(vnet_netns(self.prefix), sys.executable, "-I", PROBE, "serve-many",
                       "--seconds", str(self.server_seconds))]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.PIPE, start_new_session=True)
        self._procs.append(proc)
        assert proc.stdin is not None
        proc.stdin.write((json.dumps(spec) + "\n").encode())
        proc.stdin.close()

    def _wait_servers(self) -> None:
        deadline = time.monotonic() + 30
        for proc in self._procs:
            assert proc.stdout is not None
            left = max(0.1, deadline - time.monotonic())
            ready, _, _ = select.select([proc.stdout], [], [], left)
            line = proc.stdout.readline() if ready else b""
            if line.strip() != b"ready":
                err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None and proc.stderr else ""
                raise KernelError(f"the probe server did not start: {err.strip()[:500]}")

    def close(self) -> None:
        """Stop the servers and delete every namespace of this run (safe to call twice)."""
        if self._closed:
            return
        self._closed = True
        t0 = time.perf_counter()
        for proc in self._procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)  # the group this run started for the server
                except (ProcessLookupError, PermissionError):
                    pass
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                proc.wait(timeout=5)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        if self._created:
            cleanup(self.prefix)
        self._restore_signals()
        with _live_lock:
            _live.discard(self)
        self.teardown_seconds = time.perf_counter() - t0

    # -- where things are
    def netns(self, what: "str | int") -> str:
        """The namespace of a pod (name), a node (index or name) or a host (``"internet"``, ...)."""
        if isinstance(what, int):
            return self.plan.nodes[what]
        if what in self.plan.hosts:
            return self.plan.hosts[what]
        if what == "vnet":
            return vnet_netns(self.prefix)
        peer = names.source(self.cluster, what)
        if peer.kind is names.Kind.POD:
            return self.plan.pods[peer.pod.key]
        if peer.kind is names.Kind.NODE:
            return self.plan.nodes[peer.node.index]
        if peer.host is not None and peer.host.name in self.plan.hosts:
            return self.plan.hosts[peer.host.name]
        raise NotFoundError(f"no pod, node or host around the cluster has the address {peer.address}")

    def run(self, what: "str | int", *argv: str, stdin: str = "") -> str:
        """Run a command inside a namespace of this run and return its output."""
        return _run(_exec(self.netns(what), *argv), stdin, what=" ".join(argv)).stdout

    def ip_route(self, what: "str | int") -> str:
        """The kernel's ``ip route`` in a pod or node namespace."""
        return self.run(what, "ip", "route").rstrip("\n")

    def ip_addr(self, what: "str | int") -> str:
        return self.run(what, "ip", "addr").rstrip("\n")

    def iptables_save(self, node: "str | int") -> str:
        return self.run(node, "iptables-save")

    def nft_ruleset(self, node: "str | int") -> str:
        return self.run(node, "nft", "list", "ruleset")

    # -- probes
    def _next_sport(self) -> int:
        self._sport = 20000 + (self._sport - 20000 + 1) % 10000
        return self._sport

    def probe(self, flows: Iterable[Flow], timeout: float = 1.0, seed: int = 0) -> list[Observation]:
        """Try every flow for real, all at once; each has ``timeout`` seconds.

        Each flow's source namespace runs one batch client; a flow to a load balancer's
        frontend goes to the node the model's load balancer picks (``seed``).
        """
        flows = list(flows)
        if not self.servers:
            raise NetlabError("this realisation runs no probe servers: realise(..., servers=True)")
        jobs: dict[str, list[dict]] = {}
        meta = []
        lb_rules = []
        for k, f in enumerate(flows):
            t = f.trace(self.cluster, seed=seed)
            ns = self.netns(f.src) if f.src not in ("vnet",) else vnet_netns(self.prefix)
            to = (str(names.destination(self.cluster, f.dst).address), int(t.port))
            sport = self._next_sport()
            lb = lb_node_of(self.cluster, t)
            if lb is not None:
                lb_rules.append(f"-A NETLAB-LB -d {to[0]}/32 -p {f.protocol} --sport {sport} "
                                f"-j MARK --set-mark {LB_MARK_BASE + lb}")
            meta.append((ns, to, lb))
            jobs.setdefault(ns, []).append({"id": k, "to": to[0], "port": to[1], "proto": f.protocol,
                                            "timeout": timeout, "sport": sport})
        vnet = vnet_netns(self.prefix)
        _run(_exec(vnet, "iptables-restore", "--noflush"),
             "*mangle\n-F NETLAB-LB\n" + "".join(r + "\n" for r in lb_rules) + "COMMIT\n",
             what="the load balancer's marks for these flows")
        results: dict[int, dict] = {}

        def client(ns: str, probes: list[dict]) -> list[dict]:
            text = "".join(json.dumps(p) + "\n" for p in probes)
            r = _run(_exec(ns, sys.executable, "-I", PROBE, "batch"), text,
                     timeout=timeout + 30, what=f"probe client in {ns}")
            return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

        with ThreadPoolExecutor(max_workers=max(1, min(16, len(jobs)))) as pool:
            for out in pool.map(lambda kv: client(*kv), jobs.items()):
                for res in out:
                    results[res["id"]] = res
        obs = []
        for k, f in enumerate(flows):
            ns, to, lb = meta[k]
            res = results.get(k, {"status": "error", "detail": "no result"})
            ans = res.get("answer") or {}
            obs.append(Observation(
                flow=f, netns=ns, to=to, status=res["status"],
                answerer=ans.get("name"),
                local=tuple(ans["local"]) if ans.get("local") else None,  # type: ignore[arg-type]
                peer=tuple(ans["peer"]) if ans.get("peer") else None,  # type: ignore[arg-type]
                lb_node=lb, detail=res.get("detail", ""), elapsed=res.get("elapsed", 0.0)))
        return obs

    def check(self, flows: Iterable[Flow], timeout: float = 1.0, seed: int = 0):
        """Probe the flows and compare each with the model (:func:`netlab.linux.agreement.compare`)."""
        from .agreement import compare

        flows = list(flows)
        return [compare(self.cluster, o, seed=seed) for o in self.probe(flows, timeout=timeout, seed=seed)]

    def __repr__(self) -> str:
        state = "removed" if self._closed else "live" if self._created else "planned"
        return f"<LinuxCluster {self.prefix} ({state}): {len(self.plan.namespaces)} namespaces>"


def realise(cluster: "Cluster", **kw: Any) -> LinuxCluster:
    """``with realise(cluster) as lab:``: the cluster in network namespaces, removed on exit.

    Keywords: ``prefix`` (default: a fresh ``nl`` + 6 hex digits), ``servers`` (start
    the probe servers, default True), ``server_seconds`` (their lifetime), ``workers``.
    """
    return LinuxCluster(cluster, **kw)


# --------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m netlab.linux",
                                 description="netlab clusters in Linux network namespaces")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cleanup", help="remove namespaces a killed netlab run left behind")
    c.add_argument("--prefix", default=None, help="only this run's (nl + 6 hex digits)")
    c.add_argument("--dry-run", action="store_true", help="only list them")
    sub.add_parser("support", help="which kernel features are here")
    sub.add_parser("hairpin", help="measure a pod reaching itself through its own Service (kubenet, hairpin off/on)")
    k = sub.add_parser("check", help="compare the model with the kernel and print the agreement")
    k.add_argument("--random", type=int, default=200, help="random flows per proxy mode")
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--modes", default="iptables,nftables")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "cleanup":
            names = cleanup(args.prefix, dry_run=args.dry_run)
            verb = "would remove" if args.dry_run else "removed"
            print(f"{verb} {len(names)} namespace(s)" + (": " + " ".join(names) if names else ""))
            return 0
        if args.cmd == "support":
            for name, (ok, why) in kernel_support().items():
                print(f"{'yes' if ok else 'NO ':4} {name:28} {why}")
            return 0
        if args.cmd == "hairpin":

            img = images.matching_image()
            for mode in ("iptables", "nftables"):
                for on in (False, True):
                    res = measure_self_hairpin(mode, on)
                    got = sum(r["status"] == "answered" for r in res)
                    want = images.self_hairpin(img, on, promisc=True)[0] if img else None
                    print(f"{mode:9} hairpin {'on ' if on else 'off'}  connected {got}/{len(res)}  "
                          f"(netlab for {img.name if img else 'no known image'}: "
                          f"{'unknown' if want is None else 'connected' if want else 'times out'})")
            return 0
        from .agreement import run_all

        report = run_all(modes=tuple(args.modes.split(",")), random_flows=args.random, seed=args.seed)
        print(report.table())
        return 0 if not report.unexplained() else 1
    except NetlabError as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
