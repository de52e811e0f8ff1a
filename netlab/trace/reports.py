"""How the walk reports a node's netfilter hooks: which hooks deserve a hop of their own, which
line decided each, what a hook did in words, the endpoints kube-proxy chose among, and why a
packet was refused or dropped (chosen by the reason the deciding line carries,
:class:`netlab.model.netfilter.Refusal`, never by its wording).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..model.netfilter import Refusal
from .hops import Header


DECISIVE = ("DNAT", "SNAT", "MASQUERADE", "REJECT", "DROP", "ACCEPT", "RETURN", "MARK", "REDIRECT")


def rule_target(line: Any) -> str:
    """What an iptables line does (its target), the tool's name for the lines of other tools."""
    if line.tool != "iptables":
        return "NFT" if line.tool == "nft" else line.tool.upper()
    return line.target


def key_line(lines: Any) -> Any:
    """The line that decided the hook: the last one with a terminal, NAT or mark effect."""
    for line in reversed(lines):
        t = rule_target(line)
        if t in DECISIVE or line.tool != "iptables":
            return line
    return lines[-1] if lines else None


def hook_shown(hook: str, step: Any, cur: Header, new: Header, uplink: bool) -> bool:
    """Whether a hook deserves a hop of its own: it rewrote or judged the packet, or
    (POSTROUTING) it decided the source address of a packet leaving the node."""
    if step.verdict != "ACCEPT" or step.note or new != cur:
        return True
    if any(line.tool != "iptables" for line in step.lines):
        return any(line.target not in ("jump", "goto") for line in step.lines)
    targets = {rule_target(line) for line in step.lines}
    if hook == "POSTROUTING":
        return uplink and bool(targets & {"RETURN", "MASQUERADE", "SNAT"})
    return bool(targets & {"DNAT", "REJECT", "DROP", "MARK", "REDIRECT"}) or (
        hook in ("FORWARD", "INPUT") and "ACCEPT" in targets and any(line.mark_match for line in step.lines))


HOOK_WHAT = {
    "PREROUTING": "nat PREROUTING (a packet arriving, before the routing decision)",
    "OUTPUT": "OUTPUT (a packet the node itself sends)",
    "INPUT": "filter INPUT (for the node itself)",
    "FORWARD": "filter FORWARD (passing through the node)",
    "POSTROUTING": "nat POSTROUTING (leaving, after the routing decision)",
}


def hook_note(hook: str, step: Any, cur: Header, new: Header) -> str:
    what = HOOK_WHAT.get(hook, hook)
    if step.verdict == "PROXY":
        return (f"{what}: the connection reaches a socket of the kube-proxy process itself (userspace mode); the "
                f"process, not the kernel, picks the backend {step.note} and will copy bytes both ways.")
    if step.verdict == "IPVS":
        # IPVS is no filter rule: it takes the packet on its own hook, where filter INPUT ends (LOCAL_IN)
        return f"after {what}, IPVS takes the packet on its own hook: {step.note}."
    if step.note:
        return f"{what}: {step.note}."
    if step.verdict in ("REJECT", "DROP"):
        if any(rule_target(line) == "REDIRECT" for line in step.lines):
            return (f"{what}: REDIRECT would send the connection to the first address of the interface it came "
                    "in on, and that interface has none, so the kernel drops the packet.")
        return (f"{what}: the packet is refused (REJECT): the sender hears at once." if step.verdict == "REJECT"
                else f"{what}: the packet is dropped (DROP): the sender hears nothing.")
    if any(rule_target(line) == "REDIRECT" for line in step.lines):
        where = ("127.0.0.1, as for every packet the node sends itself" if hook == "OUTPUT" else
                 f"{new.dst}, the address of the interface the packet came in on")
        return (f"{what}: kube-proxy's rule REDIRECTs the connection to port {new.dport} of {where}; the "
                "kube-proxy process listens there for this Service (userspace mode).")
    if new.dst != cur.dst or new.dport != cur.dport:
        return (f"{what}: kube-proxy's rules matched the Service address {cur.dst}:{cur.dport} and rewrote the "
                f"destination to the endpoint {new.dst}:{new.dport} (DNAT); conntrack will undo it on the reply.")
    if new.src == cur.src and new.sport != cur.sport:
        return (f"{what}: MASQUERADE keeps the source address {new.src} (the packet already has the address of "
                f"the interface it leaves by) but gives it a random port (kube-proxy asks for a fully random one: "
                f"iptables' --random-fully, nft's fully-random; netlab shows {new.sport}, a node draws another for "
                "every connection); conntrack reverses it for the reply.")
    if new.src != cur.src and new.sport != cur.sport:
        return (f"{what}: the source becomes {new.src}, the address of the interface the packet leaves by, and a "
                f"random port (kube-proxy asks for a fully random one: iptables' --random-fully, nft's fully-random; netlab "
                f"shows {new.sport}, a node draws another for every connection); conntrack reverses both for the reply.")
    if new.src != cur.src:
        return (f"{what}: the source becomes {new.src}, the address of the interface the packet leaves by "
                "(MASQUERADE); conntrack reverses it for the reply.")
    if step.verdict in ("REJECT", "DROP"):
        return f"{what}: the packet is refused ({step.verdict})."
    if any(rule_target(line) == "MASQUERADE" for line in step.lines):
        return (f"{what}: the MASQUERADE rule matched (the packet carries kube-proxy's mark 0x4000): the source "
                f"becomes the address of the interface it leaves by, {new.src}, which the packet, made on this "
                "node, already has; conntrack reverses it for the reply.")
    if any(rule_target(line) == "MARK" for line in step.lines):
        return f"{what}: the packet gets kube-proxy's masquerade mark 0x4000, to be SNATed when it leaves."
    if hook == "POSTROUTING":
        return f"{what}: no rule rewrote the source, so the packet keeps {cur.src}."
    return f"{what}."


def endpoint_of(ps: Any) -> str | None:
    if ps.verdict == "PROXY":
        for _, step in reversed(ps.hooks):
            if step.verdict == "PROXY":
                host, _, port = step.note.rpartition(":")
                try:
                    ipaddress.IPv4Address(host)
                except ValueError:
                    return None
                return step.note if port.isdigit() else None
        return None
    if "DNAT" in ps.packet.ctstate:
        return f"{ps.packet.dst}:{ps.packet.dport}"
    return None


def branch_options(passes: Any) -> list[tuple[str, float]]:
    agg: dict[str, float] = {}
    for ps in passes:
        ep = endpoint_of(ps) or ps.verdict
        agg[ep] = agg.get(ep, 0.0) + ps.probability
    return sorted(agg.items(), key=lambda kv: (-kv[1], kv[0]))


def refusal_reason(ps: Any) -> str:
    """Why a pass was refused or dropped, in words, chosen by the reason kube-proxy's deciding line carries
    (:class:`netlab.model.netfilter.Refusal`), never by the line's wording."""
    line = key_line(ps.lines)
    text = line.text if line is not None else ""
    reason = line.refusal if line is not None else None
    if reason is Refusal.NO_ENDPOINTS:
        why = ("the Service has no endpoints (no ready pod matches its selector, or the pods that match declare no "
               "port of the targetPort's name), so kube-proxy REJECTs: the "
               "client gets 'connection refused' at once instead of waiting for a timeout")
    elif reason is Refusal.NO_LOCAL_ENDPOINTS and ps.verdict == "DROP":
        why = ("the Service's traffic policy is Local and this node runs none of its endpoints, so kube-proxy DROPs "
               "the packet (a load balancer's health probe keeps external traffic away from such nodes)")
    elif reason is Refusal.INVALID_PORT:
        why = ("the address is a Service's, but no Service has this port on it: kube-proxy REJECTs new connections "
               "to any other port of a Service address, so the client gets 'connection refused' at once")
    elif reason is Refusal.NO_REDIRECT_ADDRESS:
        why = ("REDIRECT sends a packet to the first address of the interface it came in on, and this one has "
               "none (Azure CNI's pod veths carry no IPv4 address), so the kernel drops it")
    elif reason is Refusal.FIREWALL:
        why = "the source is not in the Service's loadBalancerSourceRanges, so kube-proxy's firewall DROPs it"
    else:
        why = f"the packet is refused ({ps.verdict})"
    return f"{why}. Rule: {text}" if text else why
