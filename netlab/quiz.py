"""Self-checks for the notebooks: the question, instant feedback that teaches, no server needed.

A learner answers in their own words: ``"lo"``, ``"the loopback interface"`` and ``"Loopback"``
are one answer; an address may be given by the name it belongs to (``"cbr0"`` for
``10.244.0.1``); articles, units and yes/no phrasing do not matter. The common wrong answers
get feedback of their own (the node's address instead of the bridge's, say); any other
wrong answer gets a pointer to the evidence. The question is shown whenever the answer is
missing or wrong, so a self-check cell never asks nothing.

Example:
    >>> print(check("01-loopback", "the loopback interface"))
    Right. Containers of one pod share one network namespace, so localhost is the pod's own lo interface: the packet never reaches eth0, the veth or the node.
    >>> print(check("01-loopback", None))
    Question: A second container in the pod (a log shipper, say) connects to nginx at localhost. Through which interface does the packet travel?
    Write your answer in place of None and run the cell again.
    >>> print(check("01-loopback", "eth0"))
    Not quite ('eth0'). eth0 is the pod's door to the node: a packet to localhost never leaves the pod. Which interface holds 127.0.0.1?
    Question: A second container in the pod (a log shipper, say) connects to nginx at localhost. Through which interface does the packet travel?
"""

from __future__ import annotations

import ast
import html
import re
from dataclasses import dataclass, field

from .errors import NotFoundError, did_you_mean

# Words that carry no answer: articles, "it does", units and nouns a learner adds around the answer.
_FILLER = frozenset("""
    a an the it its is does do did answer i think my on of in to that this address addresses
    interface device ip nic one get gets got will would
""".split())


@dataclass(frozen=True, slots=True)
class Question:
    """One self-check.

    ``answers`` are accepted words or phrases, written lower-case (a phrase is compared with its
    spaces removed). ``words`` may stand around an accepted answer ("bridge" in "the cbr0
    bridge"). ``mistakes`` maps a common wrong answer to the feedback it deserves; ``wrong`` is
    the pointer for every other wrong answer.
    """

    text: str
    answers: tuple[str, ...]
    right: str
    wrong: str
    words: tuple[str, ...] = ()
    mistakes: dict[str, str] = field(default_factory=dict)


QUESTIONS: dict[str, Question] = {
    "01-loopback": Question(
        "A second container in the pod (a log shipper, say) connects to nginx at localhost. Through which "
        "interface does the packet travel?",
        ("lo", "loopback"),
        "Containers of one pod share one network namespace, so localhost is the pod's own lo interface: "
        "the packet never reaches eth0, the veth or the node.",
        "Look at the trace to 'localhost': both hops say lo. Containers of one pod share one network "
        "namespace, so they talk over the pod's loopback.",
        words=("pod", "pods", "device", "127.0.0.1"),
        mistakes={
            "eth0": "eth0 is the pod's door to the node: a packet to localhost never leaves the pod. "
                    "Which interface holds 127.0.0.1?",
            "127.0.0.1": "That is the address; the question asks for the interface that holds it "
                         "(see pod.ip_addr()).",
            "cbr0": "cbr0 is on the node, outside the pod: a packet to localhost never leaves the pod.",
        },
    ),
    "01-gateway": Question(
        "Which address does the pod send a packet to when the destination is not on its own link "
        "(the 'via' of its default route)?",
        ("10.244.0.1", "cbr0", "bridge"),
        "The default route points at 10.244.0.1, the address the bridge cbr0 holds on the node: every packet "
        "leaving the pod's /24 goes to the node first.",
        "Run pod.ip_route() and read the first line, 'default via ...'. That address belongs to cbr0 on the node.",
        words=("node", "gateway", "linux", "default", "via"),
        mistakes={
            "10.224.0.4": "10.224.0.4 is the node's own address, on eth0 in the VNet. The pod's gateway is "
                          "the address of the bridge on the node: read 'default via ...' in pod.ip_route().",
            "10.224.0.1": "10.224.0.1 is Azure's gateway for the node's subnet, used by the node, not by the "
                          "pod. Read 'default via ...' in pod.ip_route().",
            "169.254.1.1": "169.254.1.1 is the pod's gateway under Azure CNI's transparent mode; this cluster "
                           "runs kubenet. Read 'default via ...' in pod.ip_route().",
            "eth0": "eth0 is the interface the packet leaves the pod by; the question asks for the address "
                    "it is sent to (the 'via').",
        },
    ),
    "01-veth-ends": Question(
        "A veth pair joins the pod to the node. How many ends does it have? (a number)",
        ("2", "two"),
        "Two: eth0 inside the pod's namespace and a veth... interface on the node, plugged into cbr0. "
        "ip addr shows them pointing at each other with @ifN.",
        "A veth pair is a virtual cable: compare eth0@ifN in pod.ip_addr() with veth...@ifM in node.ip_addr().",
        words=("ends",),
        mistakes={
            "1": "One end would be a plain interface. A veth pair is a cable: find eth0@ifN in the pod and "
                 "its partner veth...@ifM on the node.",
        },
    ),
    "02-switch": Question(
        "Which device on the node carries a packet from pod web-0 to pod web-1 on the same node?",
        ("cbr0", "bridge", "linuxbridge", "switch"),
        "cbr0, the bridge: both pods' veths are its ports, so the frame is switched at layer 2; no route on the "
        "node is consulted and the packet keeps both pod addresses.",
        "Look at hop 2 of the trace: it names a 'bridge fdb' entry, and its table is the bridge's list of MAC "
        "addresses per port.",
        words=("linux", "virtual", "node", "layer", "2", "layer-2", "l2"),
        mistakes={
            "eth0": "eth0 is the node's network card to the VNet: this packet never leaves the node. Hop 2 of "
                    "the trace names the device that switches it.",
            "router": "No route on the node is used: the two pods share one /24 on one link. Hop 2 of the trace "
                      "names the device that switches the frame.",
            "veth": "A veth is the cable from one pod to the node; something on the node joins the two cables. "
                    "Hop 2 of the trace names it.",
        },
    ),
    "03-same-address": Question(
        "With plugin 'none', which address does the first pod on node 0 get, and which the first pod on node 1?"
        " (give both, for example '10.0.0.5 and 10.0.0.6')",
        ("172.17.0.2",),
        "Both get 172.17.0.2: every node runs its own docker0 with 172.17.0.0/16, so addresses repeat across "
        "nodes and an address no longer says where a pod is.",
        "Run cluster.kubectl_get_pods() and compare the IP column of the two pods.",
        words=("both", "and", "each", "same", "a", "b", "pod", "node", "0", "1"),
        mistakes={
            "172.17.0.1": "172.17.0.1 is docker0's own address on each node, the pods' gateway. Which address "
                          "does the first pod take after it?",
            "172.17.0.3": "The first pod on a node takes the first free address after docker0's .1. Each node "
                          "counts on its own.",
            "172.17.1.2": "Nothing gives node 1 a range of its own: every node's docker0 uses the same "
                          "172.17.0.0/16 and counts from .2.",
        },
    ),
    "04-next-hop": Question(
        "What is the next hop type of the routes AKS writes into the kubenet route table?",
        ("virtualappliance",),
        "VirtualAppliance: Azure hands the packet to the node's NIC (IP forwarding is on), and the node routes it "
        "to cbr0 and the pod.",
        "Print cluster.azure_route_table() and read the NextHopType column.",
        words=("type", "node", "nodes", "hop", "next"),
        mistakes={
            "vnetlocal": "VnetLocal is Azure's system route for the VNet's own ranges; pod ranges are not in the "
                         "VNet. Read the NextHopType column of cluster.azure_route_table().",
            "internet": "Pod ranges are private and never go to the internet. Read the NextHopType column of "
                        "cluster.azure_route_table().",
        },
    ),
    "05-addresses": Question(
        "An Azure CNI cluster has 3 nodes with max_pods=30. How many addresses of the node subnet do the nodes "
        "take, pods included, before a single pod runs? (a number)",
        ("93", "ninety-three"),
        "93 = 3 x (1 + 30): every node takes its own address and pre-allocates max_pods more for its pods.",
        "Each node takes 1 address for itself plus max_pods for its pods: compare cluster.nodes[1].ip with "
        "cluster.nodes[0].ip.",
        words=("ips",),
        mistakes={
            "90": "90 counts the pods' addresses only: each node also takes one address for itself.",
            "3": "3 counts the nodes' own addresses only: Azure CNI also reserves max_pods addresses per node "
                 "up front, before any pod runs.",
            "0": "Azure CNI reserves the pods' addresses when the node starts, not when a pod starts.",
        },
    ),
    "06-peering": Question(
        "Which plugin lets a VM in a peered VNet open a connection straight to a pod's address? "
        "(kubenet, azure-cni or azure-cni-overlay)",
        ("azure-cni", "azurecni", "advanced"),
        "Azure CNI (node subnet): pods have VNet addresses, which the peering carries like any other.",
        "Look at the row 'peered network / on premises reaches pods' of the comparison, then trace 'peered-vm' "
        "to a pod under each plugin.",
        words=("networking", "plain", "node", "subnet", "mode", "plugin"),
        mistakes={
            "kubenet": "Under kubenet pods live in 10.244.0.0/16, which only the cluster's route table knows; "
                       "the peered VNet has no route to it. Trace 'peered-vm' to a pod to see where it stops.",
            **dict.fromkeys(("azure-cni-overlay", "azurecnioverlay", "overlay"),
                            "Overlay pod addresses are private to the cluster: traffic from outside reaches "
                            "nodes, not pods. Trace 'peered-vm' to a pod to see where it stops."),
        },
    ),
    "07-dnat": Question(
        "A pod connects to a Service's ClusterIP. Which address does the endpoint pod see as the source, "
        "in iptables mode? (the client pod's address, or the node's)",
        ("pod", "client", "clientpod", "10.244.0.3"),
        "The client pod's own address: kube-proxy only rewrites the destination (DNAT) for pod-to-ClusterIP "
        "traffic; masquerading happens for traffic from outside the pod range, for hairpin, and for external "
        "traffic with the Cluster policy.",
        "Trace it and read the last hop's packet: which source does the endpoint see?",
        words=("pod", "client", "own", "source", "original"),
        mistakes={
            "node": "The node rewrites only the destination here (DNAT to an endpoint); a masquerade happens for "
                    "traffic from outside the pod range, for hairpin and for external traffic. Read the last "
                    "hop's packet in the trace.",
            "10.224.0.4": "10.224.0.4 is node 0's address: the node rewrites only the destination here (DNAT). "
                          "Read the last hop's packet in the trace.",
            "clusterip": "The ClusterIP is the destination the client used; DNAT replaces it with an endpoint's "
                         "address. The question asks about the source.",
        },
    ),
    "07-local": Question(
        "A LoadBalancer Service has externalTrafficPolicy: Local. Does the endpoint see the internet client's own "
        "address? (yes or no)",
        ("yes", "y", "true"),
        "Yes: with Local, the node sends external traffic only to its own endpoints and does not masquerade it; "
        "the load balancer's HTTP health probe keeps traffic away from nodes without an endpoint.",
        "Trace from 'internet' to the Service's load balancer IP and compare the first and the last hop's source.",
        words=("sees", "see", "client", "own", "doesn't", "does", "preserved", "kept", "keeps",
               "198.51.100.7"),
        mistakes={
            "no": "That is the Cluster policy, which masquerades so the reply comes back through the same node. "
                  "Local keeps the client's address: trace from 'internet' and read the last hop's source.",
            "false": "That is the Cluster policy, which masquerades so the reply comes back through the same "
                     "node. Local keeps the client's address: trace from 'internet' and read the last hop's source.",
        },
    ),
    "09-real-route": Question(
        "In the cluster read from data/aks-cluster.json, the client pod sends a packet to the shop pod at "
        "10.244.0.2. To which node address does Azure's route table send it?",
        ("10.224.0.9", "aks-nodepool1-32661605-vmss000001", "vmss000001"),
        "Node vmss000001 (10.224.0.9) holds 10.244.0.0/24: in a real cluster the node IPAM controller hands out "
        "the /24s as nodes register, so the node names, the node addresses and the pod ranges need not line up. "
        "kubenet writes one route per node from each node's podCIDR, whatever it is.",
        "Find the node whose POD-CIDR holds 10.244.0.2 in node_pod_cidrs()'s table, and read its INTERNAL-IP.",
        words=("node", "eth0", "to", "the", "route", "sends", "it"),
        mistakes={
            "10.224.0.4": "That is the pattern of a new cluster, where node 0 holds 10.244.0.0/24. Here the /24s "
                          "were handed out in another order: which node's POD-CIDR is 10.244.0.0/24?",
            "10.244.0.1": "That is cbr0's address on the node that holds the range; Azure's route points at the "
                          "node's own address (its eth0).",
            "10.224.0.12": "That is the client's own node, which sends the packet out; which node holds "
                           "10.244.0.0/24?",
        },
    ),
}


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a self-check says: right (True), wrong (False) or not answered yet (None)."""

    correct: bool | None
    message: str
    question: str = ""

    def __str__(self) -> str:
        if self.correct:
            return self.message
        return f"{self.message}\nQuestion: {self.question}" if self.correct is False else \
            f"Question: {self.question}\n{self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = {True: "#1b7837", False: "#b2182b", None: "#555555"}[self.correct]
        asked = f"<p><b>Question:</b> {html.escape(self.question)}</p>" if self.correct is not True else ""
        said = f"<p style='color:{colour}'>{html.escape(self.message)}</p>"
        return asked + said if self.correct is None else said + asked


def _words(value: object) -> list[str]:
    """Lower-case words of an answer; dots and dashes stay inside words (addresses, plugin names)."""
    text = str(value).lower().replace("\u2019", "'")
    words = [w.strip(".'-") for w in re.findall(r"[a-z0-9][a-z0-9.'/-]*", text)]
    words = [w[:-2] if w.endswith("'s") else w for w in words if w]  # "cbr0's address" names cbr0
    return [re.sub(r"^(\d+\.\d+\.\d+\.\d+)/\d+$", r"\1", w) for w in words]  # 10.244.0.1/24 is 10.244.0.1


def _matches(words: list[str], accepted: tuple[str, ...] | list[str], extra: tuple[str, ...],
             worked: str | None = None) -> bool:
    """True if the words say one of ``accepted``, with nothing else but filler around it.

    A phrase counts with or without the words allowed around it ("Azure CNI (node subnet)" is
    "azure-cni"), and a worked answer counts by its result ("3 x 31 = 93" is "93").
    """
    left = [w for w in words if w not in _FILLER]
    if not left:
        return False
    core = [w for w in left if w not in extra]
    if "".join(left) in accepted or (core and "".join(core) in accepted):
        return True
    if worked is not None:  # a worked sum counts by its result, if the sum is right
        return worked in accepted
    return any(w in accepted for w in left) and all(w in accepted or w in extra for w in left)


def _worked(text: str) -> str | None:
    """For "3 x 31 = 93" (or "93 = 3 x 31"): the result, "93", if every side gives the same number;
    "" if they do not; None if the answer is not a worked sum. Only + - x * / and parentheses are read."""
    if "=" not in text:
        return None
    sides = [side.strip().lower().replace("x", "*").replace("\u00d7", "*") for side in text.split("=")]
    try:
        values = [_arithmetic(ast.parse(side, mode="eval").body) for side in sides]
    except (SyntaxError, ValueError, ZeroDivisionError):
        return ""
    if not all(v == values[0] for v in values):
        return ""
    return str(int(values[0])) if float(values[0]).is_integer() else str(values[0])


def _arithmetic(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        a, b = _arithmetic(node.left), _arithmetic(node.right)
        return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}.get(type(node.op), a / b if b else float("nan"))
    raise ValueError("not a sum")


def check(question: str, answer: object) -> Feedback:
    """Check ``answer`` to ``question``; show the question unless the answer is right, and explain."""
    q = QUESTIONS.get(question)
    if q is None:
        raise NotFoundError(f"there is no self-check {question!r}.{did_you_mean(question, QUESTIONS)} The self-checks "
                            f"are {', '.join(QUESTIONS)}; each notebook's cell names its own")
    if answer is None or not str(answer).strip():
        return Feedback(None, "Write your answer in place of None and run the cell again.", q.text)
    # The whole answer, and, for an answer followed by its reason ("two, one in the pod and one on the
    # node", "93 (3 x 31)"), what comes before the first comma, bracket or semicolon.
    texts = dict.fromkeys(t.strip() for t in (str(answer), re.split(r"[,(;:]", str(answer), maxsplit=1)[0]))
    readings = [(_words(t), _worked(t)) for t in texts if t]
    if any(_matches(words, q.answers, q.words, worked) for words, worked in readings):
        return Feedback(True, f"Right. {q.right}", q.text)
    for mistake, feedback in q.mistakes.items():
        # A mistake counts even beside a right part ("172.17.0.2 and 172.17.1.2" is wrong about node 1).
        if any(_matches(words, (mistake,), q.words + q.answers, worked) for words, worked in readings):
            return Feedback(False, f"Not quite ({answer!r}). {feedback}", q.text)
    return Feedback(False, f"Not quite ({answer!r}). {q.wrong}", q.text)
