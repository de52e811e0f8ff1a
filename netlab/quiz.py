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
