"""Diagrams: structure checks on the returned figure (texts, arrows), not pixels."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

import netlab as nl  # noqa: E402
from netlab.plot import draw_cluster  # noqa: E402
from helpers import PLUGINS, with_plugin  # noqa: E402


def texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_every_pod_node_and_address_is_labelled(kubenet2, plugin):
    c = with_plugin(kubenet2, plugin)
    fig = draw_cluster(c)
    t = "\n".join(texts(fig))
    for pod in c.pods.values():
        assert pod.name in t and str(pod.ip) in t
    for node in c.nodes:
        assert node.name in t and str(node.ip) in t
    assert fig.axes[0].get_title()


def test_kubenet_draws_cbr0_and_the_route_table(kubenet2):
    t = "\n".join(texts(draw_cluster(kubenet2)))
    assert "bridge cbr0 10.244.0.1/24" in t and "route table (UDR)" in t
    assert "10.244.1.0/24 -> 10.224.0.5" in t


def test_trace_draws_one_numbered_arrow_per_move_and_marks_the_used_route(kubenet2):
    tr = kubenet2.trace("web-0", "api-0", port=8080)
    fig = draw_cluster(kubenet2, trace=tr)
    ax = fig.axes[0]
    arrows = [c for c in ax.get_children() if type(c).__name__ == "Annotation"]
    assert len(arrows) >= 5
    numbers = {int(s) for s in texts(fig) if s.isdigit()}
    assert numbers <= set(range(1, len(tr.hops) + 1)) and len(tr.hops) in numbers
    assert any(s.endswith("<- used") and "10.244.1.0/24" in s for s in texts(fig))


def test_dropped_trace_is_marked(kubenet2):
    fig = draw_cluster(kubenet2, trace=kubenet2.trace("peered-vm", "api-0"))
    assert "X dropped" in texts(fig)


def test_large_clusters_are_summarised():
    c = nl.Cluster.aks("azure-cni", nodes=9, pods_per_node=8)
    t = texts(draw_cluster(c))
    assert "+3 more nodes" in t and "+2 more" in t


def test_figure_renders_png_for_jupyter(kubenet2):
    fig = draw_cluster(kubenet2)
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_draws_into_a_given_axes(kubenet2):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    assert draw_cluster(kubenet2, ax=ax) is fig
