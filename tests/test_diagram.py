"""The cluster diagram (netlab.views.diagram): readable at 900 px, numbered as the trace, faithful to the model.

Structure checks on the drawing itself: every text's size and box, every badge, every arrow, the SVG's
elements; the browser suite checks the same boxes as Chromium lays them out.
"""

import re
import xml.etree.ElementTree as ET

import pytest

import netlab as nl
from figures import notebook_figures, swept_figures
from helpers import PLUGINS, with_plugin
from netlab.views.diagram import FONT, WIDTH

SVG = "{http://www.w3.org/2000/svg}"
NOTEBOOK_FIGURES = notebook_figures()
SWEPT = swept_figures()


def _texts(d):
    return [t.text for t in d.texts]


@pytest.mark.parametrize("name, diagram", NOTEBOOK_FIGURES + SWEPT, ids=lambda v: v if isinstance(v, str) else "")
def test_readable_at_900_px_nothing_covers_a_label(name, diagram):
    assert diagram.width == WIDTH == 900
    assert min(t.size for t in diagram.texts) >= FONT >= 12
    assert diagram.overlaps() == []
    root = ET.fromstring(diagram.svg)
    assert root.get("viewBox") == f"0 0 900 {diagram.height:.0f}"
    sizes = [float(t.get("font-size")) for t in root.iter(f"{SVG}text")]
    assert sizes and min(sizes) >= 12  # the SVG as written, not only the boxes kept for checks


def test_every_notebook_figure_is_checked_and_four_notebooks_step_through_a_trace():
    assert sum(1 for name, _ in NOTEBOOK_FIGURES if "draw_cluster" in name) == 12
    assert sum(1 for _, d in NOTEBOOK_FIGURES if d.trace is not None) == 11
    stepping = sorted(name.split(":")[0] for name, _ in NOTEBOOK_FIGURES if "step_through" in name)
    assert stepping == ["01-single-pod", "04-kubenet-routing", "05-azure-cni", "07-services"]


@pytest.mark.parametrize("name, diagram", [(n, d) for n, d in NOTEBOOK_FIGURES + SWEPT if d.trace is not None],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_every_hop_has_its_number_once_and_in_order(name, diagram):
    hops = [n for b in diagram.badges for n in b.hops]
    assert hops == list(range(1, len(diagram.trace.hops) + 1))
    for b in diagram.badges:
        first, last = b.hops[0], b.hops[-1]
        assert b.label.replace(" ✕", "") == (str(first) if first == last else f"{first}-{last}")
    nat = {n for n, h in enumerate(diagram.trace.hops, 1) if h.nat}
    assert {n for b in diagram.badges if b.kind == "nat" for n in b.hops} >= nat
    for n in nat:  # each translation's before and after is written out, under the hop's number
        assert any(t.text.startswith(f"{n}.") for t in diagram.texts)
        assert any(diagram.trace.hops[n - 1].nat_text.split(" -> ")[0].split()[-1] in t.text for t in diagram.texts)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_every_pod_node_and_address_is_labelled(kubenet2, plugin):
    c = with_plugin(kubenet2, plugin)
    t = "\n".join(_texts(nl.draw_cluster(c)))
    for pod in c.pods.values():
        assert pod.name in t and str(pod.ip) in t
    for node in c.nodes:
        assert node.name in t and str(node.ip) in t
    assert "pause (netns)" in t  # the container that holds each pod's network namespace


def test_kubenet_draws_cbr0_its_veths_and_the_route_table(kubenet2):
    d = nl.draw_cluster(kubenet2)
    t = _texts(d)
    assert "cbr0 10.244.0.1/24" in t and "cbr0 10.244.1.1/24" in t
    assert "10.244.1.0/24 -> 10.224.0.5" in t
    for pod in kubenet2.pod_records():
        assert kubenet2.pod_dataplane(pod).host_if in t
    assert "<title>bridge cbr0 10.244.0.1/24: the pods' gateway</title>" in d.svg


def test_the_route_a_hop_used_carries_the_hops_number(kubenet2):
    t = kubenet2.trace("web-0", "api-0", port=8080)
    used = [n for n, h in enumerate(t.hops, 1) if h.decided_by.command == "az network route-table route list -o table"]
    assert used
    d = nl.draw_cluster(kubenet2, trace=t)
    assert f"10.244.1.0/24 -> 10.224.0.5  hop {used[0]}" in _texts(d)
    assert "10.244.0.0/24 -> 10.224.0.4" in _texts(d)  # the other row, not marked


def test_a_dropped_trace_ends_in_an_x_with_its_reason(kubenet2):
    t = kubenet2.trace("peered-vm", "api-0")
    d = nl.draw_cluster(kubenet2, trace=t)
    end = d.badges[-1]
    assert end.kind == "end" and end.label.endswith("✕") and end.hops[-1] == len(t.hops)
    words = " ".join(_texts(d))
    assert "dropped:" in words and "route table" in words


def test_a_wrong_pod_is_marked():
    from netlab import scenarios

    c = scenarios.multiple_nodes()  # notebook 03: plugin none, pods a and b share 172.17.0.2
    t = c.trace("a", "b")
    assert t.verdict.value == "delivered to the wrong pod"
    d = nl.draw_cluster(c, trace=t)
    assert "✕ wrong pod" in _texts(d)
    assert d.svg.count(f'stroke="#D55E00" stroke-width="3"') == 1  # pod a's box, outlined


def test_large_clusters_lay_out_in_rows_and_summarise():
    c = nl.Cluster.aks("azure-cni", nodes=12, pods_per_node=8)
    d = nl.draw_cluster(c)
    t = _texts(d)
    assert "+3 more nodes" in t
    assert any(re.fullmatch(r"\+\d+ more pods", s) for s in t)
    rows = {round(box[1]) for key, box in d.boxes.items() if key.startswith("node ")}
    assert len(rows) == 3  # nine nodes drawn, three to a row
    assert d.overlaps() == []


def test_the_text_alternative_describes_and_lists_the_hops(kubenet2):
    t = kubenet2.trace("web-0", "api-0", port=8080)
    d = nl.draw_cluster(kubenet2, trace=t)
    assert repr(d).splitlines()[0] == ("kubenet (AKS basic networking): 2 nodes, 3 pods. Trace pod web-0 (10.244.0.2) -> "
                                       f"pod api-0 (10.244.1.2), tcp/8080: delivered after {len(t.hops)} hops.")
    assert str(t) in repr(d)
    root = ET.fromstring(d.svg)
    assert root.find(f"{SVG}title").text == d.description and root.find(f"{SVG}desc").text == d.description
    assert d._repr_html_().startswith('<div style="max-width:900px"><svg')


def test_every_pod_node_and_badge_has_a_title_for_hover_and_screen_readers(kubenet2):
    d = nl.draw_cluster(kubenet2, trace=kubenet2.trace("web-0", "api-0", port=8080))
    root = ET.fromstring(d.svg)
    titles = [t.text for t in root.iter(f"{SVG}title")]
    for pod in kubenet2.pod_records():
        assert any(s.startswith(f"pod default/{pod.name} {pod.ip}") for s in titles)
    assert sum(1 for s in titles if re.match(r"\d+\. ", s)) == len(d.badges)


def test_the_same_cluster_and_trace_draw_the_same_svg(kubenet2):
    t = kubenet2.trace("web-0", "api-0", port=8080)
    assert nl.draw_cluster(kubenet2, trace=t).svg == nl.draw_cluster(kubenet2, trace=t).svg


def test_the_legend_names_only_what_the_drawing_uses(kubenet2):
    bare = _texts(nl.draw_cluster(kubenet2))
    assert "bridge" in bare and "address translated (NAT)" not in bare and "the packet's way, hop number" not in bare
    traced = _texts(nl.draw_cluster(kubenet2, trace=kubenet2.trace("web-0", "internet", port=443)))
    assert "address translated (NAT)" in traced and "the packet's way, hop number" in traced
    routed = _texts(nl.draw_cluster(with_plugin(kubenet2, "azure-cni")))
    assert "bridge" not in routed and any(t.endswith("a /32 per pod") for t in routed)
    assert "no bridge: the node's routes (a /32 per pod)" in routed


def test_the_load_balancers_health_probe_is_drawn_on_each_node():
    from netlab import scenarios

    c = scenarios.all_services()
    lb = str(c.find_service("shop").spec.load_balancer_ips[0])
    d = nl.draw_cluster(c, trace=c.trace("internet", lb, port=80))
    t = _texts(d)
    assert t.count("LB probe ✓") == 2 and t.count("LB probe ✕") == 1  # Local policy: the nodes with a web pod
    assert any(s.startswith("probe HTTP ") and s.endswith("/healthz") for s in t) and "2 of 3 nodes pass" in t
    words = " ".join(t)
    assert "the load balancer sent the connection to node aks-nodepool1-87544974-vmss00000" in words
    dnat = next(h for h in d.trace.hops if h.nat)
    assert f"by {dnat.decided_by.where}:" in words  # the rule that translated, next to its hop's number


def test_highlight_picks_out_one_hop(kubenet2):
    t = kubenet2.trace("web-0", "api-0", port=8080)
    d = nl.draw_cluster(kubenet2, trace=t, highlight=3)
    current = [b for b in d.badges if 3 in b.hops]
    assert len(current) == 1
    style = re.search(r"<style>(.*)</style>", d.svg).group(1)
    assert f"#{d.ident} rect.nl-b.nl-h3{{stroke:#222222;stroke-width:3.5}}" in style  # the current hop's badge, ringed
    assert f"#{d.ident} .nl-s2" in style and f"#{d.ident} .nl-s3" not in style  # the way up to it, strong
    assert d.svg.count(f'id="{d.ident}"') == 1 and "<style>" not in nl.draw_cluster(kubenet2, trace=t).svg
    with pytest.raises(nl.ConfigError, match=rf"highlight=99: give a hop number of the trace, 1 to {len(t.hops)}"):
        nl.draw_cluster(kubenet2, trace=t, highlight=99)
    with pytest.raises(nl.ConfigError, match="highlight= needs a trace= to pick a hop of"):
        nl.draw_cluster(kubenet2, highlight=1)


def test_a_trace_from_another_cluster_is_refused_not_drawn_in_the_wrong_places(kubenet2):
    t = kubenet2.trace("web-0", "api-0", port=8080)
    moved = kubenet2.remove_pod("api-0").add_pod("api-0", node=0, containers=[nl.Container("api", ports=[8080])])
    with pytest.raises(nl.ConfigError, match=r"Trace again in the cluster you draw: nl.draw_cluster\(cluster, trace=cluster.trace"):
        nl.draw_cluster(moved, trace=t)
    same = kubenet2.with_proxy_mode("iptables")  # an equal cluster is the same cluster
    assert nl.draw_cluster(same, trace=t).trace is t


def test_pods_that_share_an_address_say_so():
    from netlab import scenarios

    t = [x.text for x in nl.draw_cluster(scenarios.multiple_nodes()).texts]  # notebook 03: plugin none
    assert "same IP as b" in t and "same IP as a" in t


def test_a_loopback_trace_stays_inside_the_pod():
    c = nl.Cluster.aks("kubenet").add_pod("web-0", containers=[nl.Container("nginx", ports=[80])])
    d = nl.draw_cluster(c, trace=c.trace("web-0", "localhost", port=80))
    x0, y0, x1, y1 = d.boxes["pod default/web-0"]
    assert all(x0 < b.x < x1 and y0 < b.y < y1 for b in d.badges)


def test_azure_cnis_vnet_hop_marks_the_effective_route_it_used():
    from netlab import scenarios

    c = scenarios.azure_cni()
    t = c.trace("web-0", "api-0", port=8080)
    n = next(k for k, h in enumerate(t.hops, 1) if h.decided_by.command.startswith("az network nic"))
    texts = [x.text for x in nl.draw_cluster(c, trace=t).texts]
    assert f"10.224.0.0/12 -> VnetLocal  hop {n}" in texts and "192.168.0.0/16 -> None (Invalid)" in texts


def test_the_replys_translations_are_noted_before_and_after():
    from netlab import scenarios

    c = scenarios.web_service()  # notebook 07: client -> the ClusterIP Service web
    t = c.trace("client", "web", port=80)
    undone = [(n, h) for n, h in enumerate(t.reply.hops, 1) if h.nat]
    assert undone
    texts = [x.text for x in nl.draw_cluster(c, trace=t).texts]
    for n, h in undone:
        assert f"reply hop {n}, {h.place}: {h.nat_text}" in texts
    assert any("un-DNAT source 10.244." in x and "-> " + str(c.find_service("web").cluster_ip) in x for x in texts)
