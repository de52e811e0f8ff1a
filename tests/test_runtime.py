"""The container runtime's view of a node: pod sandboxes (pause containers) and app containers, as crictl prints them."""

import pytest

import netlab as nl
from netlab.model import naming
from netlab.text.formats import human_duration
from netlab.model.routing import format_tabwriter
from netlab.cni.runtime import PAUSE_IMAGE
from helpers import PLUGINS, with_plugin

CRICTL_PODS_NODE0 = """\
POD ID              CREATED             STATE               NAME                NAMESPACE           ATTEMPT             RUNTIME
c1cb683af23da       2 minutes ago       Ready               web-1               default             0                   (default)
9b86cc4521762       3 minutes ago       Ready               web-0               default             0                   (default)"""

CRICTL_PS_NODE0 = """\
CONTAINER           IMAGE               CREATED             STATE               NAME                ATTEMPT             POD ID              POD                 NAMESPACE
4ef63498efe03       3ba4dd6a43799       2 minutes ago       Running             nginx               0                   c1cb683af23da       web-1               default
6855fd9e4f8b7       cf6356a4be5cc       3 minutes ago       Running             log-shipper         0                   9b86cc4521762       web-0               default
24cb096711349       3ba4dd6a43799       3 minutes ago       Running             nginx               0                   9b86cc4521762       web-0               default"""


def test_crictl_pods_lists_one_sandbox_per_pod_newest_first(kubenet2):
    assert kubenet2.nodes[0].crictl_pods() == CRICTL_PODS_NODE0


def test_crictl_ps_lists_the_app_containers_newest_first_and_not_the_pause_container(kubenet2):
    assert kubenet2.nodes[0].crictl_ps() == CRICTL_PS_NODE0
    pause = naming.image_id(PAUSE_IMAGE).removeprefix("sha256:")[:13]
    assert pause not in kubenet2.nodes[0].crictl_ps()


def test_an_empty_node_prints_only_the_header_with_crictls_20_column_minimum():
    c = nl.Cluster.aks("kubenet")
    assert c.nodes[0].crictl_pods() == ("POD ID              CREATED             STATE               NAME                "
                                        "NAMESPACE           ATTEMPT             RUNTIME")
    assert c.nodes[0].crictl_ps().split() == ["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD", "ID",
                                              "POD", "NAMESPACE"]


def test_every_container_names_the_sandbox_of_its_pod(kubenet2):
    for node in kubenet2.nodes:
        pod_ids = {line.split()[-4]: line.split()[0] for line in node.crictl_pods().splitlines()[1:]}
        assert pod_ids == {p.name: p.sandbox.short_id for p in node.pods}
        for line in node.crictl_ps().splitlines()[1:]:
            cells = line.split()
            pod_id, pod = cells[-3], cells[-2]
            assert pod_ids[pod] == pod_id
        listed = len(node.crictl_ps().splitlines()) - 1
        assert listed == sum(len(p.containers) for p in node.pods)  # no pause containers among them


def test_created_follows_the_same_clock_as_kubectl_age(kubenet2):
    ages = {line.split()[0]: line.split()[4] for line in kubenet2.kubectl_get_pods().splitlines()[1:]}
    for pod in kubenet2.pods.values():
        sb = pod.sandbox
        assert f"{sb.age_minutes}m" == ages[pod.name]
    assert "2 minutes ago" in kubenet2.nodes[0].crictl_pods() and ages["web-1"] == "2m"
    assert "About a minute ago" in kubenet2.nodes[1].crictl_pods() and ages["api-0"] == "1m"


def test_sandbox_holds_the_same_netns_the_trace_and_the_node_name(kubenet2):
    sb = kubenet2.pods["web-0"].sandbox
    assert sb.netns == naming.netns_name("default", "web-0")
    assert sb.netns_path == f"/var/run/netns/{sb.netns}"
    hop = kubenet2.trace("web-0", "api-0", port=8080).hops[0]
    assert hop.netns == f"netns {sb.netns}"
    assert f"link-netns {sb.netns}" in kubenet2.nodes[0].ip_addr()  # the host end of web-0's veth points at it
    assert sb.ip == kubenet2.pods["web-0"].ip and sb.image == "mcr.microsoft.com/oss/kubernetes/pause:3.6"
    assert sb.containers == ("nginx", "log-shipper")
    assert "holds network namespace " + sb.netns in str(sb) and "share its address" in str(sb)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_sandboxes_do_not_depend_on_the_plugin(kubenet2, plugin):
    c = with_plugin(kubenet2, plugin)
    for name in ("web-0", "web-1", "api-0"):
        a, b = kubenet2.pods[name].sandbox, c.pods[name].sandbox
        assert (a.id, a.netns, a.age_minutes) == (b.id, b.netns, b.age_minutes)
        assert b.ip == c.pods[name].ip
    assert c.nodes[0].crictl_ps() == CRICTL_PS_NODE0


def test_azure_cni_bridge_mode_names_the_host_veth_after_the_sandbox_id(kubenet2):
    c = kubenet2.with_plugin("azure-cni", cni_mode="bridge")
    sb = c.pods["web-0"].sandbox
    import hashlib

    assert c.pods["web-0"].node.ip_addr().count("azv" + hashlib.sha1(f"azure{sb.id}eth0".encode()).hexdigest()[:11]) == 1


def test_the_same_description_gives_the_same_ids(kubenet2):
    again = (nl.Cluster.aks("kubenet", nodes=2)
             .add_pod("web-0", node=0, labels={"app": "web"},
                      containers=[nl.Container("nginx", ports=[80]), nl.Container("log-shipper")])
             .add_pod("web-1", node=0, labels={"app": "web"}, containers=[nl.Container("nginx", ports=[80])])
             .add_pod("api-0", node=1, labels={"app": "api"}, containers=[nl.Container("api", ports=[8080])]))
    assert again.nodes[0].crictl_ps() == kubenet2.nodes[0].crictl_ps()
    assert again.nodes[1].crictl_pods() == kubenet2.nodes[1].crictl_pods()


def test_a_pod_created_later_makes_the_others_older():
    c = nl.Cluster.aks("kubenet").add_pod("web-0")
    later = c.add_pod("web-1")
    assert c.pods["web-0"].sandbox.age_minutes == 1 and later.pods["web-0"].sandbox.age_minutes == 2
    assert later.nodes[0].sandboxes[0].name == "web-1"  # newest first


@pytest.mark.parametrize("minutes, words", [
    (1, "About a minute"), (2, "2 minutes"), (59, "59 minutes"), (60, "About an hour"), (89, "About an hour"),
    (90, "2 hours"), (47 * 60, "47 hours"), (48 * 60, "2 days"), (14 * 24 * 60, "2 weeks"),
    (60 * 24 * 60, "2 months"), (2 * 365 * 24 * 60, "2 years"),
])
def test_created_is_worded_as_go_units_human_duration(minutes, words):
    assert human_duration(minutes) == words


def test_tabwriter_pads_to_the_widest_cell_and_leaves_the_last_cell_alone():
    rows = [["A", "B", "C"], ["a-very-long-cell-of-28-chars", "b", "last cell is not padded"]]
    out = format_tabwriter(rows, minwidth=20, padding=3).splitlines()
    assert out[0] == "A" + " " * 30 + "B" + " " * 19 + "C"
    assert out[1].endswith("b" + " " * 19 + "last cell is not padded")
