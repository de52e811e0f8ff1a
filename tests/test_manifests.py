"""Manifests in and out: ``Cluster.apply`` builds what ``kubectl apply`` would, ``to_manifests`` writes it back."""

import json
import pathlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netlab as nl
from netlab.k8s import manifests

SHOP = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 3
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - {containerPort: 8080, name: http}
---
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports:
  - {name: http, port: 80, targetPort: http}
"""

SHOP_PODS = """\
NAME                    READY   STATUS    RESTARTS   AGE   IP           NODE                                NOMINATED NODE   READINESS GATES
shop-86789b4d6b-qgx6m   1/1     Running   0          1m    10.244.0.3   aks-nodepool1-87544974-vmss000000   <none>           <none>
shop-86789b4d6b-s729j   1/1     Running   0          3m    10.244.0.2   aks-nodepool1-87544974-vmss000000   <none>           <none>
shop-86789b4d6b-sz2x8   1/1     Running   0          2m    10.244.1.2   aks-nodepool1-87544974-vmss000001   <none>           <none>"""


def state(c):
    """Everything apply decides: pods (node, address, containers, labels), Services, objects."""
    pods = sorted((p.namespace, p.name, p.node, str(p.ip), p.containers, p.labels) for p in c.pod_records())
    svcs = sorted((e.key, e.spec, e.selector) for e in c.service_records())
    objs = sorted((w.key, json.dumps(w.object, sort_keys=True), w.pods) for w in c.workload_records()
                  if w.kind != "Pod")  # a pod built in Python comes back as an applied Pod
    return pods, svcs, objs


@pytest.fixture(scope="module")
def shop():
    return nl.Cluster.aks("kubenet", nodes=2).apply(SHOP)


def test_a_deployment_and_its_service(shop):
    assert shop.applied == ("deployment.apps/shop created\n"
                            "  ignored (no effect on the network): spec.template.spec.containers[0].image\n"
                            "service/shop created")
    assert shop.kubectl_get_pods() == SHOP_PODS
    assert shop.services["shop"].endpoints == ["10.244.0.2:8080", "10.244.0.3:8080", "10.244.1.2:8080"]
    pod = shop.pod_record("shop-86789b4d6b-s729j")
    assert pod.label_map == {"app": "shop", "pod-template-hash": "86789b4d6b"}
    assert pod.containers == (nl.Container("web", ports=[nl.ContainerPort(8080, "http")]),)
    t = shop.trace("shop-86789b4d6b-s729j", "shop", port=80, endpoint="10.244.1.2:8080")
    assert t.verdict is nl.Verdict.DELIVERED


def test_replicas_spread_over_the_nodes_as_the_scheduler_does():
    c = nl.Cluster.aks("kubenet", nodes=3).add_pod("busy", node=0).apply(SHOP.replace("replicas: 3", "replicas: 4"))
    per_node = [len([p for p in c.pods_on(n) if p.name.startswith("shop-")]) for n in range(3)]
    assert per_node == [1, 2, 1]  # node 0 already runs a pod: nodes 1 and 2 first, then the least loaded


def test_applying_the_same_again_changes_nothing_and_says_so(shop):
    again = shop.apply(SHOP)
    assert again.applied.splitlines()[0] == "deployment.apps/shop unchanged"
    assert again.applied.splitlines()[-1] == "service/shop unchanged"
    assert state(again) == state(shop)


def test_a_new_replica_count_adds_or_removes_the_newest_pods(shop):
    up = shop.apply(SHOP.replace("replicas: 3", "replicas: 5"))
    assert up.applied.startswith("deployment.apps/shop configured")
    old = {p.name for p in shop.pod_records()}
    assert old < {p.name for p in up.pod_records()} and up.pod_count() == 5
    down = up.apply(SHOP.replace("replicas: 3", "replicas: 1"))
    assert [p.name for p in down.pod_records()] == [min(old, key=lambda n: shop.pod_record(n).seq)]


def test_a_new_pod_template_replaces_the_pods_with_a_new_hash(shop):
    new = shop.apply(SHOP.replace("8080", "9090"))
    assert new.applied.startswith("deployment.apps/shop configured")
    names = {p.name for p in new.pod_records()}
    assert len(names) == 3 and not names & {p.name for p in shop.pod_records()}
    assert {p.label_map["pod-template-hash"] for p in new.pod_records()} != {"86789b4d6b"}
    assert new.services["shop"].endpoints[0].endswith(":9090")  # the named port follows the template


def test_a_statefulset_numbers_its_pods_and_labels_them():
    c = nl.Cluster.aks("azure-cni", nodes=2).apply("""
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: pg, image: postgres:17, ports: [{containerPort: 5432}]}]}
""")
    assert [p.name for p in c.pod_records()] == ["db-0", "db-1", "db-2"]
    labels = c.pod_record("db-1").label_map
    assert labels["statefulset.kubernetes.io/pod-name"] == "db-1" and labels["apps.kubernetes.io/pod-index"] == "1"
    assert labels["controller-revision-hash"].startswith("db-")
    assert [p.node for p in c.pod_records()] == [0, 1, 0]
    down = c.apply(c.to_manifests().replace("replicas: 3", "replicas: 1"))
    assert [p.name for p in down.pod_records()] == ["db-0"]  # the highest ordinals go first


def test_a_daemonset_runs_one_pod_on_every_node():
    ds = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: monitoring}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: agent:1, ports: [{containerPort: 9100, name: metrics}]}]}
"""
    c = nl.Cluster.aks("kubenet", nodes=3).apply(ds)
    pods = c.pod_records()
    assert sorted(p.node for p in pods) == [0, 1, 2] and {p.namespace for p in pods} == {"monitoring"}
    assert all(p.name.startswith("agent-") and len(p.name) == len("agent-") + 5 for p in pods)
    assert pods[0].label_map["pod-template-generation"] == "1"


def test_a_replicaset_and_a_bare_pod_with_its_node():
    c = nl.Cluster.aks("kubenet", nodes=2)
    node1 = c.nodes[1].name
    c = c.apply(f"""
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: cache}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: cache}}}}
  template:
    metadata: {{labels: {{app: cache, pod-template-hash: abc}}}}
    spec: {{containers: [{{name: redis, ports: [{{containerPort: 6379}}]}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: debug, labels: {{run: debug}}}}
spec:
  nodeName: {node1}
  containers: [{{name: shell}}]
""")
    assert c.pod_record("debug").node == 1
    assert sorted(p.name.rpartition("-")[0] for p in c.pod_records() if p.name != "debug") == ["cache", "cache"]
    assert c.apply(c.to_manifests()).applied.count("unchanged") == 2


def test_a_list_json_and_a_file_path_are_read_too(tmp_path):
    items = [json.loads(json.dumps(d)) for d in manifests.read(SHOP)[1]]
    as_list = json.dumps({"apiVersion": "v1", "kind": "List", "items": [d for _, d in items]})
    base = nl.Cluster.aks("kubenet", nodes=2)
    want = state(base.apply(SHOP))
    assert state(base.apply(as_list)) == want
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP)
    assert state(base.apply(path)) == want
    assert state(base.apply(str(path))) == want


def test_what_kubectl_get_o_yaml_adds_is_ignored_quietly():
    c = nl.Cluster.aks("kubenet").apply("""
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
  uid: 5a1c
  resourceVersion: "123"
  creationTimestamp: "2026-12-01T10:00:00Z"
spec:
  containers: [{name: nginx, image: nginx}]
status:
  phase: Running
  podIP: 10.244.0.9
""")
    assert c.applied == "pod/web created\n  ignored (no effect on the network): spec.containers[0].image"


def test_kinds_and_services_netlab_does_not_build_are_reported_and_skipped():
    c = nl.Cluster.aks("kubenet").apply("""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec: {podSelector: {}}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {clusterIP: None, selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec: {type: ExternalName, externalName: example.com}
""")
    lines = c.applied.splitlines()
    assert lines[0].startswith("networkpolicy/deny-all not modelled, skipped: netlab's clusters run no network policy")
    assert lines[1].startswith("service/db not modelled, skipped: a headless Service (clusterIP: None)")
    assert lines[2].startswith("service/ext not modelled, skipped: an ExternalName Service is a DNS alias")
    assert c.find_service("db") is None and c.find_service("ext") is None


def test_fields_that_change_the_network_but_are_not_modelled_say_what_netlab_does_instead():
    c = nl.Cluster.aks("kubenet").apply(SHOP.replace(
        "      containers:", "      hostNetwork: true\n      nodeSelector: {pool: big}\n      containers:").replace(
        "- {containerPort: 8080, name: http}", "- {containerPort: 8080, name: http, hostPort: 8080}"))
    text = c.applied
    assert "not modelled: spec.template.spec.hostNetwork: the pod gets its own network namespace" in text
    assert "not modelled: spec.template.spec.nodeSelector: netlab places the pod" in text
    assert "not modelled: spec.template.spec.containers[0].ports[0].hostPort: the port is open on the pod's" in text


BAD = [
    ("kind: Pod\nmetadata: {name: web\nspec: {}\n",
     "error: error parsing <text>: document 1: error converting YAML to JSON: yaml: line 3:"),
    ("kind: Pod\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   b: c\n",
     "document 2: error converting YAML to JSON: yaml: line 7: mapping values are not allowed here"),
    (SHOP.replace("replicas: 3", "replicass: 3"),
     'error: <text>, document 1 (Deployment default/shop): The Deployment "shop" is invalid: strict decoding '
     'error: unknown field "spec.replicass". Did you mean \'replicas\'?'),
    (SHOP.replace("replicas: 3", "replicas: three"),
     'spec.replicas: Invalid value: "three": spec.replicas must be of type integer'),
    (SHOP.replace("replicas: 3", "replicas: -1"),
     "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
    (SHOP.replace("apps/v1", "v1", 1),
     'error: resource mapping not found for name: "shop" from <text>, document 1: no matches for kind "Deployment" '
     'in version "v1": a Deployment is served as apiVersion: apps/v1'),
    (SHOP.replace("  name: shop\nspec:\n  replicas", "  labels: {a: b}\nspec:\n  replicas", 1),
     "document 1: Deployment: metadata.name: Required value"),
    (SHOP.replace("labels: {app: shop}", "labels: {app: store}", 1),
     "spec.template.metadata.labels: Invalid value: {\"app\": \"store\"}: `selector` does not match template "
     "`labels`"),
    (SHOP.replace("containerPort: 8080", "containerPort: 70000"),
     "spec.template.spec.containers[0].ports[0]: Invalid value: containerPort 70000 is not a port"),
    (SHOP.replace("- name: web\n        image", "- image"),
     "spec.template.spec.containers[0].name: Required value"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {nodeName: aks-nodepool1-87544974-vmss000009, "
     "containers: [{name: a}]}\n",
     "spec.nodeName: Invalid value: \"aks-nodepool1-87544974-vmss000009\": there is no node named"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {tier: 1}}\nspec: {containers: [{name: a}]}\n",
     "metadata.labels: Invalid value: {\"tier\": 1}: label values are text"),
    ("- a\n- b\n", "error: error validating <text>, document 1: expected an object"),
    ("metadata: {name: x}\n", "error validating data: [apiVersion not set, kind not set]"),
    (SHOP.replace("name: shop\nspec:\n  replicas", "name: Shop\nspec:\n  replicas", 1),
     'The Deployment "Shop" is invalid: metadata.name: Invalid value: "Shop": a lowercase RFC 1123 subdomain'),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: taken}\nspec: {containers: [{name: a}]}\n",
     'pod "taken" already exists in namespace default, built in Python (add_pod), not by apply'),
    (SHOP.replace("  ports:\n  - {name: http, port: 80, targetPort: http}", "  ports: []"),
     "spec.ports: Required value"),
    ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}], ipFamilies: [IPv6]}\n",
     "netlab's clusters are IPv4 single-stack"),
    (SHOP.replace("kind: Deployment", "kind: Deploymnet"),
     'no matches for kind "Deploymnet" in version "apps/v1". Did you mean \'Deployment\'?'),
    ("apiVersion: apps/v1\nkind: Ingress\nmetadata: {name: x}\n",
     'no matches for kind "Ingress" in version "apps/v1": Ingress is served as apiVersion: networking.k8s.io/v1'),
    ("", "error: no objects passed to apply"),
    ("---\n# only a comment\n", "error: no objects passed to apply"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_manifests_get_messages_naming_the_document_and_the_field(text, message):
    base = nl.Cluster.aks("kubenet", nodes=2).add_pod("taken")
    with pytest.raises(nl.ManifestError) as err:
        base.apply(text)
    assert message in str(err.value)
    assert isinstance(err.value, nl.NetlabError)


def test_a_missing_file_and_a_changed_pod_are_refused(shop, tmp_path):
    with pytest.raises(nl.ManifestError, match='the path ".*nope.yaml" does not exist'):
        shop.apply(str(tmp_path / "nope.yaml"))
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, ports: [{containerPort: 80}]}]}\n"
    once = shop.apply(pod)
    assert once.apply(pod).applied == "pod/p unchanged"
    with pytest.raises(nl.ManifestError, match="pod updates may not change fields"):
        once.apply(pod.replace("80", "81"))


def test_a_failed_apply_leaves_the_cluster_as_it_was(shop):
    before = state(shop)
    with pytest.raises(nl.ManifestError):
        shop.apply(SHOP.replace("replicas: 3", "replicas: 4") + "---\nkind: Pod\n")  # the second document fails
    assert state(shop) == before


def test_to_manifests_writes_python_built_pods_and_services_with_their_node_and_addresses(tmp_path):
    c = (nl.Cluster.aks("kubenet", nodes=2)
         .add_pod("web-0", node=1, labels={"app": "web"}, containers=[nl.Container("nginx", ports=[80])])
         .add_service("web", selector={"app": "web"}, ports=[80], type="NodePort").add_coredns())
    text = c.to_manifests(path=tmp_path / "out.yaml")
    assert (tmp_path / "out.yaml").read_text() == text
    docs = [d for _, d in manifests.read(text)[1]]
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [("Pod", "web-0"), ("Service", "web")]
    assert docs[0]["spec"]["nodeName"] == c.nodes[1].name
    assert docs[1]["spec"]["clusterIP"] == str(c.services["web"].cluster_ip)
    assert docs[1]["spec"]["ports"][0]["nodePort"] == c.services["web"].ports[0].node_port
    back = nl.Cluster.aks("kubenet", nodes=2).apply(text).add_coredns()
    assert state(back)[:2] == state(c)[:2]
    assert "coredns" in c.to_manifests(include_system=True)


# ----------------------------------------------------------------------------- the round trip, as a property
_NAMES = st.sampled_from(["web", "api", "db", "cache", "shop"])


@st.composite
def objects(draw):
    """A few workloads and Services, as YAML documents a learner might write."""
    docs = []
    used = set()
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"]))
        name = draw(_NAMES)
        if name in used:
            continue
        used.add(name)
        port = draw(st.sampled_from([80, 8080, 5432]))
        container = {"name": "main", "image": "app:1", "ports": [{"containerPort": port, "name": "main"}]}
        labels = {"app": name}
        if kind == "Pod":
            docs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
                         "spec": {"containers": [container]}})
        else:
            spec = {"selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}
            if kind != "DaemonSet":
                spec["replicas"] = draw(st.integers(0, 4))
            docs.append({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec})
        if draw(st.booleans()):
            docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                         "spec": {"type": draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"])),
                                  "selector": labels, "ports": [{"port": 80, "targetPort": "main"}]}})
    return docs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objects(), st.sampled_from(["kubenet", "azure-cni", "azure-cni-overlay"]), st.integers(1, 3),
       st.integers(0, 2))
def test_to_manifests_applies_back_to_the_same_cluster(docs, plugin, nodes, bare):
    import yaml

    base = nl.Cluster.aks(plugin, nodes=nodes)
    c = base
    for i in range(bare):  # pods built in Python, before and between the applied objects
        c = c.add_pod(f"bare-{i}", node=i % nodes, labels={"app": "bare"})
    c = c.apply(yaml.safe_dump_all(docs))
    text = c.to_manifests()
    again = base.apply(text)
    assert state(again) == state(c)
    assert again.to_manifests() == text
    assert again.apply(text).applied.count(" unchanged") == len(again.workload_records())


def test_the_readme_example_file_of_notebook_09_applies():
    data = pathlib.Path(__file__).resolve().parent.parent / "notebooks" / "data"
    for path in sorted(data.glob("*.yaml")):
        nl.Cluster.aks("kubenet", nodes=2).apply(path)


def test_a_named_target_port_no_pod_declares_is_accepted_as_the_api_server_does_and_gives_no_endpoints():
    c = nl.Cluster.aks("kubenet", nodes=2).apply(SHOP.replace("targetPort: http", "targetPort: web"))
    assert c.applied.splitlines()[-1] == "service/shop created"
    assert c.services["shop"].endpoints == []
    t = c.trace(c.pod_records()[0].name, "shop", port=80)
    assert t.verdict is nl.Verdict.REFUSED and "declare no port of the targetPort's name" in t.text()
    with pytest.raises(nl.ServiceError, match="declares a port named 'web'"):  # the Python API still catches it
        c.remove_service("shop").add_service("shop", selector={"app": "shop"},
                                             ports=[{"name": "http", "port": 80, "targetPort": "web"}])


def test_a_custom_resource_is_skipped_and_said_so():
    c = nl.Cluster.aks("kubenet").apply("apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: tls}\n")
    assert c.applied == ("certificate.cert-manager.io/tls not modelled, skipped: a custom resource of "
                         "cert-manager.io; netlab models Kubernetes' own network objects")
