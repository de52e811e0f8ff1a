"""Step through a packet, hop by hop, like a network simulator's simulation mode.

:func:`step_through` takes a trace and returns a :class:`StepThrough`: ``.widget`` shows the
cluster diagram with the current hop picked out (the way up to it strong, the rest faint) and,
beside it, the packet before and after the hop, the interfaces, any address translation, the
line that decided the hop and the command that prints it, and why. Prev, Next and a slider move
between hops; ``.step`` reads and sets the current hop (1 is the first), ``.steps`` is how many
hops there are. A step changes only a style block of the drawing, so it costs next to nothing.

Example:
    >>> import netlab as nl
    >>> c = nl.Cluster.aks("kubenet", nodes=2).add_pod("web-0", node=0).add_pod("api-0", node=1)
    >>> s = nl.step_through(c.trace("web-0", "api-0", port=80))
    >>> s.steps, s.step
    (7, 1)
    >>> s.step = 4
    >>> print(s.text().splitlines()[0])
    hop 4 of 7: Azure VNet aks-vnet-69863852  from aks-nodepool1-87544974-vmss000000
"""

from __future__ import annotations

import html
from typing import Any

from ..errors import ConfigError
from ..trace.hops import left_aligned
from .diagram import BLUE, INK, PURPLE, VERMILION, Diagram, draw_cluster


class StepThrough:
    """A trace's hops one at a time, on the diagram. ``widget`` is what Jupyter shows."""

    def __init__(self, trace: Any, cluster: Any = None) -> None:
        import ipywidgets as w

        from ..trace.hops import Trace

        if not isinstance(trace, Trace):
            raise ConfigError(f"step_through takes what cluster.trace(...) returns, not {trace!r}")
        from ..cluster.core import Cluster

        if cluster is not None and not isinstance(cluster, Cluster):
            raise ConfigError(f"step_through(trace, cluster=...) takes the cluster the trace was made in, not {cluster!r}")
        cluster = cluster if cluster is not None else trace.cluster
        if cluster is None:
            raise ConfigError("this trace does not say which cluster it was traced in: pass it, "
                              "step_through(trace, cluster=the_cluster)")
        if not trace.hops:
            raise ConfigError("this trace has no hops to step through (the packet never left its source)")
        self.trace = trace
        self.cluster = cluster
        # Its own id: the step's style must not restyle the same drawing shown by draw_cluster in another cell.
        self.diagram: Diagram = draw_cluster(cluster, trace=trace).renamed("step")
        self.steps = len(trace.hops)
        self.prev = w.Button(description="Prev", icon="step-backward", layout=w.Layout(width="90px"))
        self.next = w.Button(description="Next", icon="step-forward", layout=w.Layout(width="90px"))
        self.slider = w.IntSlider(value=1, min=1, max=self.steps, description="hop", continuous_update=True,
                                  layout=w.Layout(width="420px"))
        # The drawing keeps its full 900 px (its texts are 12 px at that width); the panel goes beside it when
        # the notebook is wide enough, under it otherwise.
        self.picture = w.HTML(layout=w.Layout(width="900px", max_width="100%", flex="0 0 auto"))
        self.detail = w.HTML(layout=w.Layout(flex="1 1 280px", min_width="280px", padding="0 0 0 12px"))
        self.prev.on_click(lambda _: self._move(-1))
        self.next.on_click(lambda _: self._move(+1))
        self.slider.observe(lambda ch: self._show(), "value")
        self.widget = w.VBox([w.HBox([self.prev, self.slider, self.next]),
                              w.HBox([self.picture, self.detail], layout=w.Layout(flex_flow="row wrap"))])
        self._show()

    @property
    def step(self) -> int:
        """The current hop, 1 to :attr:`steps`."""
        return self.slider.value

    @step.setter
    def step(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= self.steps:
            raise ConfigError(f"step={value!r}: give a whole number, the hop to show: this trace has hops 1 to "
                              f"{self.steps}; the last valid step, {self.step}, stays on screen")
        self.slider.value = value

    def _move(self, delta: int) -> None:
        self.slider.value = min(self.steps, max(1, self.slider.value + delta))

    def _show(self) -> None:
        n = self.step
        self.picture.value = f'<div style="max-width:900px">{self.diagram.highlighted(n)}</div>'
        self.detail.value = self.html()
        self.prev.disabled = n == 1
        self.next.disabled = n == self.steps

    def hop(self) -> Any:
        """The current hop (:class:`netlab.trace.Hop`)."""
        return self.trace.hops[self.step - 1]

    def header(self) -> list[str]:
        """The column headings above the current hop's deciding line, when that line is a row of a table
        (``az ... -o table``, ``ipvsadm -Ln``, ``kubectl get``): a row means little without them."""
        from ..errors import NetlabError

        line = self.hop().decided_by
        heads = 3 if line.command.startswith("ipvsadm") else 2 if line.command.endswith("-o table") else \
            1 if line.command.startswith("kubectl get") else 0
        if not heads:
            return []
        try:
            rows = self.cluster.run(line.command, on=line.on).splitlines()
        except NetlabError:
            return []
        return rows[:heads] if any(r.rstrip() == line.text.rstrip() for r in rows[heads:]) else []

    def text(self) -> str:
        """The current hop in words: where, the packet before and after, NAT, the deciding line and its command."""
        n, h = self.step, self.hop()
        lines = [f"hop {n} of {self.steps}: {h.place}  {h.interface}",
                 f"  before   {h.before}",
                 f"  after    {h.packet}"]
        if h.nat:
            lines.append(f"  NAT      {h.nat_text}")
        lines.append(f"  decided by, as {h.decided_by.where} prints it:")
        lines.extend(f"    {row}" for row in self.header())
        lines.append(f"    {h.decided_by.text.rstrip() if self.header() else h.decided_by.text.strip()}")
        on = f", on={h.decided_by.on!r}" if h.decided_by.on is not None else ""
        lines.append(f"  see it   cluster.run({h.decided_by.command!r}{on})")
        if h.note:
            lines.append(f"  why      {h.note}")
        if n == self.steps:
            lines.append(f"  then     {self.trace.verdict.value}: {self.trace.reason}")
        return "\n".join(lines)

    def html(self) -> str:
        """The current hop as the panel beside the diagram shows it."""
        n, h = self.step, self.hop()
        e = html.escape

        def packet(header: Any, other: Any) -> str:
            # the fields the hop changed, in bold
            parts = []
            for field, sep in (("src", ":"), ("sport", " -> "), ("dst", ":"), ("dport", " ")):
                value = e(str(getattr(header, field)))
                parts.append((f"<b style='color:{PURPLE}'>{value}</b>" if getattr(header, field) != getattr(other, field)
                              else value) + sep)
            return "<code>" + "".join(parts) + e(header.protocol) + "</code>"

        end = ""
        if n == self.steps:
            colour = BLUE if self.trace.delivered else VERMILION
            end = f"<p style='color:{colour}'><b>{e(self.trace.verdict.value)}</b>: {e(self.trace.reason)}</p>"
        on = f", on={h.decided_by.on!r}" if h.decided_by.on is not None else ""
        nat = f"<tr><th>NAT</th><td>{e(h.nat_text)}</td></tr>" if h.nat else ""
        header = self.header()
        # a table's row under its headings, spacing kept; any other line as the tool prints it
        deciding = (f"<pre style='margin:0;font-size:12px;overflow-x:auto;max-width:100%'>{e(chr(10).join(header + [h.decided_by.text.rstrip()]))}</pre>"
                    if header else f"<code>{e(h.decided_by.text.strip())}</code>")
        why = f"<tr><th>why</th><td>{e(h.note)}</td></tr>" if h.note else ""
        return left_aligned(f"<div style='color:{INK};font-size:13px'><p><b>hop {n} of {self.steps}</b>: {e(str(h.place))}"
                f"<br><small>{e(h.netns)}</small></p><table>"
                f"<tr><th>interface</th><td>{e(h.interface)}</td></tr>"
                f"<tr><th>before</th><td>{packet(h.before, h.packet)}</td></tr>"
                f"<tr><th>after</th><td>{packet(h.packet, h.before)}</td></tr>{nat}"
                f"<tr><th>decided by</th><td><small>{e(h.decided_by.where)}</small><br>{deciding}<br>"
                f"<small>see it: <code>cluster.run({e(repr(h.decided_by.command))}{e(on)})</code></small></td></tr>"
                f"{why}</table>{end}</div>")

    def __repr__(self) -> str:
        return self.text()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """The live widget where a kernel runs it; the current hop as a drawing and a panel (HTML) and as
        text elsewhere (a notebook viewer, a saved notebook's output)."""
        data = self.widget._repr_mimebundle_(**kwargs)
        data = dict(data[0]) if isinstance(data, tuple) else dict(data)
        data["text/plain"] = self.text()
        data["text/html"] = f"{self.picture.value}{self.detail.value}"
        return data


def step_through(trace: Any, cluster: Any = None) -> StepThrough:
    """Step through ``trace`` hop by hop on the cluster's diagram (see :class:`StepThrough`).

    ``cluster`` is the one the trace was made in, which a trace remembers; pass it only for a
    trace made some other way.
    """
    return StepThrough(trace, cluster)
