"""Self-checks for the notebooks: instant feedback with an explanation, no server needed.

Example:
    >>> print(check("01-loopback", "lo"))
    Right. Containers of one pod share one network namespace, so localhost is the pod's own lo interface: the packet never reaches eth0, the veth or the node.
    >>> print(check("01-loopback", None))
    Replace None with your answer and run the cell again.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from .errors import NotFoundError, did_you_mean


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    answers: tuple[str, ...]  # accepted answers, compared lower-case without spaces
    right: str
    wrong: str


QUESTIONS: dict[str, Question] = {
    "01-loopback": Question(
        "Through which interface does a packet from container nginx to container log-shipper "
        "(same pod, address localhost) travel?",
        ("lo", "loopback"),
        "Containers of one pod share one network namespace, so localhost is the pod's own lo interface: "
        "the packet never reaches eth0, the veth or the node.",
        "Look at the trace to 'localhost': both hops say lo. Containers of one pod share one network "
        "namespace, so they talk over the pod's loopback.",
    ),
    "01-gateway": Question(
        "Which address does the pod send a packet to when the destination is not on its own link "
        "(the 'via' of its default route)?",
        ("10.244.0.1",),
        "The default route points at 10.244.0.1, the address the bridge cbr0 holds on the node: every packet "
        "leaving the pod's /24 goes to the node first.",
        "Run pod.ip_route() and read the first line, 'default via ...'. That address belongs to cbr0 on the node.",
    ),
    "01-veth-ends": Question(
        "How many ends does a veth pair have, and where is each? (answer: the number of ends)",
        ("2", "two"),
        "Two: eth0 inside the pod's namespace and a veth... interface on the node, plugged into cbr0. "
        "ip addr shows them pointing at each other with @ifN.",
        "A veth pair is a virtual cable: compare eth0@ifN in the pod with veth...@ifM on the node.",
    ),
    "02-switch": Question(
        "Which device on the node carries a packet from pod web-0 to pod web-1 on the same node?",
        ("cbr0", "thebridge", "bridge", "bridgecbr0"),
        "cbr0, the bridge: both pods' veths are its ports, so the frame is switched at layer 2; no route on the "
        "node is consulted and the packet keeps both pod addresses.",
        "Look at hop 2 of the trace: it names a 'bridge fdb' entry, and its table is the bridge's list of MAC "
        "addresses per port.",
    ),
    "03-same-address": Question(
        "With plugin 'none', which address does the first pod on node 0 get, and which the first pod on node 1?"
        " (answer with the one address)",
        ("172.17.0.2",),
        "Both get 172.17.0.2: every node runs its own docker0 with 172.17.0.0/16, so addresses repeat across "
        "nodes and an address no longer says where a pod is.",
        "Run cluster.kubectl_get_pods() and compare the IP column of the two pods.",
    ),
    "04-next-hop": Question(
        "What is the next hop type of the routes AKS writes into the kubenet route table?",
        ("virtualappliance",),
        "VirtualAppliance: Azure hands the packet to the node's NIC (IP forwarding is on), and the node routes it "
        "to cbr0 and the pod.",
        "Print cluster.azure_route_table() and read the NextHopType column.",
    ),
    "05-addresses": Question(
        "An Azure CNI cluster has 3 nodes with max_pods=30. How many addresses of the node subnet do the nodes "
        "take, pods included, before a single pod runs?",
        ("93",),
        "93 = 3 x (1 + 30): every node takes its own address and pre-allocates max_pods more for its pods.",
        "Each node takes 1 address for itself plus max_pods for its pods: compare c.nodes[1].ip with c.nodes[0].ip.",
    ),
    "06-peering": Question(
        "Which plugin lets a VM in a peered VNet open a connection straight to a pod's address? "
        "(kubenet, azure-cni or azure-cni-overlay)",
        ("azure-cni", "azurecni", "advanced"),
        "Azure CNI (node subnet): pods have VNet addresses, which the peering carries like any other.",
        "Look at the row 'peered network / on premises reaches pods' of the comparison, then trace 'peered-vm' "
        "to a pod under each plugin.",
    ),
    "07-dnat": Question(
        "A pod connects to a Service's ClusterIP. Which address does the endpoint pod see as the source, "
        "in iptables mode? (the client pod's address, or the node's)",
        ("pod", "thepod", "clientpod", "thepodsaddress", "thepod'saddress", "theclientpod'saddress"),
        "The client pod's own address: kube-proxy only rewrites the destination (DNAT) for pod-to-ClusterIP "
        "traffic; masquerading happens for traffic from outside the pod range, for hairpin, and for external "
        "traffic with the Cluster policy.",
        "Trace it and read the last hop's packet: which source does the endpoint see?",
    ),
    "07-local": Question(
        "A LoadBalancer Service has externalTrafficPolicy: Local. Does the endpoint see the internet client's own "
        "address? (yes or no)",
        ("yes", "y"),
        "Yes: with Local, the node sends external traffic only to its own endpoints and does not masquerade it; "
        "the load balancer's HTTP health probe keeps traffic away from nodes without an endpoint.",
        "Trace from 'internet' to the Service's load balancer IP and compare the first and the last hop's source.",
    ),
}


@dataclass(frozen=True, slots=True)
class Feedback:
    correct: bool | None
    message: str

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = {True: "#1b7837", False: "#b2182b", None: "#555555"}[self.correct]
        return f"<p style='color:{colour}'>{html.escape(self.message)}</p>"


def _norm(value: object) -> str:
    return str(value).strip().lower().replace(" ", "")


def check(question: str, answer: object) -> Feedback:
    """Check ``answer`` to ``question`` and explain, right or wrong."""
    q = QUESTIONS.get(question)
    if q is None:
        raise NotFoundError(f"there is no self-check {question!r}.{did_you_mean(question, QUESTIONS)}")
    if answer is None:
        return Feedback(None, "Replace None with your answer and run the cell again.")
    if _norm(answer) in q.answers:
        return Feedback(True, f"Right. {q.right}")
    return Feedback(False, f"Not quite ({answer!r}). {q.wrong}")
