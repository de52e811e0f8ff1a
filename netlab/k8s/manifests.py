"""Manifests in and out: the YAML a learner would ``kubectl apply``, applied to a netlab cluster.

:func:`apply` reads one or more YAML (or JSON) documents, each a Pod, Deployment, ReplicaSet,
StatefulSet, DaemonSet or Service (or a ``List`` of them, as ``kubectl get -o yaml`` prints), and
returns a new cluster with their pods and Services, as the controllers and the scheduler would make
them:

* a Deployment's pods are ``<name>-<pod-template-hash>-<5 characters>`` and carry the
  ``pod-template-hash`` label; a ReplicaSet's ``<name>-<5 characters>``; a StatefulSet's
  ``<name>-0``, ``<name>-1``... with its ``statefulset.kubernetes.io/pod-name`` and
  ``apps.kubernetes.io/pod-index`` labels; a DaemonSet runs one pod on every node;
* replicas are spread as the scheduler spreads pods that ask for nothing special
  (:func:`netlab.k8s.addons.place_replicas`: fewest replicas of this workload, then fewest pods,
  then the lowest node index); a Pod's ``spec.nodeName`` puts it on that node;
* applying an object again is ``unchanged`` when nothing changed, ``configured`` when it did: a
  new replica count adds or removes pods (the newest go first), a new pod template replaces the
  pods, a Service is replaced; a Pod cannot be changed, as the API server refuses that too.

What ``apply`` says is kept as ``cluster.applied`` (the lines ``kubectl apply`` prints, then every
field netlab ignored or does not model, from :mod:`.schema`). Kinds netlab does not build (a
ConfigMap, a NetworkPolicy, an Ingress...) are listed as not modelled and skipped. Malformed YAML
and invalid objects raise :class:`~netlab.errors.ManifestError`, naming the source, the document's
number and the field's path, in the words the API server uses.

:func:`to_manifests` writes a cluster's workloads and Services back as YAML that ``apply`` reads
again to the same pods, addresses and Services (``tests/test_manifests.py`` checks that as a
property).

Example:
    >>> import netlab as nl
    >>> shop = nl.Cluster.aks("kubenet", nodes=2).apply('''
    ... apiVersion: apps/v1
    ... kind: Deployment
    ... metadata: {name: shop}
    ... spec:
    ...   replicas: 2
    ...   selector: {matchLabels: {app: shop}}
    ...   template:
    ...     metadata: {labels: {app: shop}}
    ...     spec:
    ...       containers:
    ...       - name: web
    ...         image: nginx:1.27
    ...         ports: [{containerPort: 80, name: http}]
    ... ''')
    >>> print(shop.applied)
    deployment.apps/shop created
      ignored (no effect on the network): spec.template.spec.containers[0].image
    >>> [(p.name, str(p.ip)) for p in shop.pod_records()]
    [('shop-bcd774488-8ztbx', '10.244.0.2'), ('shop-bcd774488-j9bhv', '10.244.1.2')]

Taught in ``notebooks/09-your-own-cluster.ipynb``.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ManifestError, NetlabError, did_you_mean
from ..model import naming
from ..model.types import Container, ContainerPort
from . import addons, schema

if TYPE_CHECKING:
    from ..cluster.core import Cluster

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
#: Server-set metadata ``kubectl get -o yaml`` prints; not kept in what ``to_manifests`` writes.
_SERVER_META = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
                "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers")
_WHY_NOT = {
    "NetworkPolicy": "netlab's clusters run no network policy engine, so every pod can reach every pod",
    "Ingress": "an ingress controller is a pod like any other; netlab does not model its proxying",
    "EndpointSlice": "the EndpointSlice controller makes them from Services and pods",
    "Endpoints": "the EndpointSlice controller makes them from Services and pods",
    "Namespace": "namespaces need no object in netlab: give metadata.namespace and it exists",
}


@dataclass(frozen=True, slots=True)
class Workload:
    """An object ``apply`` built: its kind and name, the manifest as applied (JSON text, without
    ``status`` and the server's bookkeeping), its pods, and when it was made (``seq``)."""

    kind: str
    namespace: str
    name: str
    manifest: str
    pods: tuple[tuple[str, str], ...]
    seq: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)

    @property
    def object(self) -> dict[str, Any]:
        return json.loads(self.manifest)


# ----------------------------------------------------------------------------- reading
def read(source: Any) -> tuple[str, list[tuple[int, Any]]]:
    """``(label, [(document number, object), ...])`` from YAML text, JSON text or a file's path.

    Empty documents (a trailing ``---``) are left out; a ``List`` stays one document.

    >>> read("kind: Pod\\n---\\nkind: Service\\n---\\n")
    ('<text>', [(1, {'kind': 'Pod'}), (2, {'kind': 'Service'})])
    """
    import yaml

    label = "<text>"
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source and
                                           source.strip().endswith((".yaml", ".yml", ".json"))):
        path = pathlib.Path(source)
        if not path.is_file():
            raise ManifestError(f'error: the path "{path}" does not exist: give the path of a YAML or JSON file, '
                                "or the manifest's text itself")
        label, source = str(path), path.read_text(encoding="utf-8")
    if not isinstance(source, str):
        raise ManifestError(f"apply() takes YAML or JSON text, or a file's path, not {type(source).__name__}")
    docs: list[tuple[int, Any]] = []
    number = 0
    try:
        for number, doc in enumerate(yaml.safe_load_all(source), start=1):
            if doc is not None:
                docs.append((number, doc))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        problem = getattr(err, "problem", None) or str(err)
        raise ManifestError(f"error: error parsing {label}: document {number + 1}: error converting YAML to JSON: "
                            f"yaml: {where}: {problem}") from None
    return label, docs


def _shape_name(shape: Any) -> str:
    return {"str": "string", "int": "integer", "bool": "boolean", "map": "object"}.get(shape, "object") \
        if not isinstance(shape, tuple) else "array"


def _json(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else f'"{value}"'


def check(value: Any, fields: Mapping[str, schema.Field], path: str, notes: list[tuple[str, str, str]]) -> None:
    """Check ``value`` against ``fields`` (strict, as ``kubectl apply`` validates), adding
    ``(path, fate, instead)`` for each field netlab ignores or does not model."""
    if not isinstance(value, Mapping):
        raise ManifestError(f"{path or 'the object'}: Invalid value: {_json(value)}: must be an object")
    for key, sub in value.items():
        where = f"{path}.{key}" if path else str(key)
        field = fields.get(key)
        if field is None:
            raise ManifestError(f'strict decoding error: unknown field "{where}".{did_you_mean(str(key), fields)}')
        if field.fate != schema.USED:
            notes.append((where, field.fate, field.instead))
            continue
        _check_shape(sub, field.shape, where, notes)


def _check_shape(value: Any, shape: Any, where: str, notes: list) -> None:
    if value is None:
        return
    bad = False
    if isinstance(shape, dict):
        check(value, shape, where, notes)
    elif isinstance(shape, tuple):
        if not isinstance(value, list):
            bad = True
        else:
            for i, item in enumerate(value):
                _check_shape(item, shape[0], f"{where}[{i}]", notes)
    elif shape == "str":
        bad = not isinstance(value, str)
    elif shape == "int":
        bad = not isinstance(value, int) or isinstance(value, bool)
    elif shape == "bool":
        bad = not isinstance(value, bool)
    elif shape == "map":
        bad = not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in value.items())
        if bad and isinstance(value, Mapping):
            raise ManifestError(f"{where}: Invalid value: {_json(value)}: label values are text: quote numbers "
                                "and words such as yes or true (app: \"1\")")
    if bad:
        raise ManifestError(f"{where}: Invalid value: {_json(value)}: {where} must be of type {_shape_name(shape)}")


# ----------------------------------------------------------------------------- building
def _containers(spec: Mapping[str, Any], path: str) -> tuple[Container, ...]:
    items = spec.get("containers")
    if not items:
        raise ManifestError(f"{path}.containers: Required value: a pod needs at least one container")
    out = []
    for i, c in enumerate(items):
        where = f"{path}.containers[{i}]"
        if not c.get("name"):
            raise ManifestError(f"{where}.name: Required value: every container has a name")
        ports = []
        for j, p in enumerate(c.get("ports") or ()):
            if "containerPort" not in p:
                raise ManifestError(f"{where}.ports[{j}].containerPort: Required value")
            try:
                ports.append(ContainerPort(p["containerPort"], p.get("name"), p.get("protocol", "TCP")))
            except NetlabError as err:
                raise ManifestError(f"{where}.ports[{j}]: Invalid value: {err}") from None
        try:
            out.append(Container(c["name"], ports=ports))
        except NetlabError as err:
            raise ManifestError(f"{where}.name: Invalid value: {err}") from None
    return tuple(out)


def _labels(meta: Mapping[str, Any] | None) -> dict[str, str]:
    return dict((meta or {}).get("labels") or {})


def _replicas(spec: Mapping[str, Any]) -> int:
    n = spec.get("replicas", 1)
    if n < 0:
        raise ManifestError(f"spec.replicas: Invalid value: {n}: must be greater than or equal to 0")
    return n


def _selector(spec: Mapping[str, Any], template_labels: Mapping[str, str]) -> dict[str, str]:
    sel = spec.get("selector")
    if not sel:
        raise ManifestError("spec.selector: Required value: say which pods are this workload's, "
                            "e.g. selector: {matchLabels: {app: shop}}")
    if sel.get("matchExpressions"):
        raise ManifestError("spec.selector.matchExpressions: not modelled: netlab selects pods by matchLabels only; "
                            "write the selector as matchLabels")
    labels = dict(sel.get("matchLabels") or {})
    if not labels:
        raise ManifestError("spec.selector: Invalid value: {}: empty selector is invalid for deployment")
    if any(template_labels.get(k) != v for k, v in labels.items()):
        raise ManifestError(f"spec.template.metadata.labels: Invalid value: {_json(template_labels)}: `selector` "
                            "does not match template `labels`: every matchLabels pair must be among the template's "
                            "labels")
    return labels


def _canonical(obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The object as it is kept: no status, no server bookkeeping, the namespace filled in."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SERVER_META}
    meta["namespace"] = namespace
    out = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta}
    if "spec" in obj:
        out["spec"] = obj["spec"]
    return out


def _dump(obj: Any) -> str:
    """Canonical JSON: equal objects give equal text, whatever the order of their keys."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _pod_names(cluster: "Cluster", kind: str, name: str, namespace: str, thash: str, count: int,
               have: list[str]) -> list[str]:
    """Names for ``count`` more pods, as the controller of ``kind`` makes them."""
    cfg = cluster.config
    taken = set(have)
    out: list[str] = []
    if kind == "StatefulSet":
        ordinal = 0
        while len(out) < count:
            candidate = f"{name}-{ordinal}"
            if candidate not in taken:
                out.append(candidate)
                taken.add(candidate)
            ordinal += 1
        return out
    prefix = f"{name}-{thash}" if kind == "Deployment" else name
    i = len(have)
    while len(out) < count:
        attempt = 0
        while True:  # the controller retries a name that is taken; so does netlab
            candidate = f"{prefix}-{naming.random_suffix(cfg.resource_group, cfg.name, namespace, prefix, str(i), str(attempt))}"
            if candidate not in taken and cluster.find_pod(candidate, namespace) is None:
                break
            attempt += 1
        out.append(candidate)
        taken.add(candidate)
        i += 1
    return out


def _pod_labels(kind: str, name: str, thash: str, template_labels: Mapping[str, str], pod: str) -> dict[str, str]:
    labels = dict(template_labels)
    if kind == "Deployment":
        labels["pod-template-hash"] = thash
    elif kind == "StatefulSet":
        labels.update({"apps.kubernetes.io/pod-index": pod.rpartition("-")[2],
                       "controller-revision-hash": f"{name}-{thash}",
                       "statefulset.kubernetes.io/pod-name": pod})
    elif kind == "DaemonSet":
        labels.update({"controller-revision-hash": thash, "pod-template-generation": "1"})
    return labels


def _scale(cluster: "Cluster", kind: str, name: str, namespace: str, template: Mapping[str, Any],
           replicas: int, keep: list[tuple[str, str]]) -> tuple["Cluster", list[tuple[str, str]]]:
    """Make the workload run ``replicas`` pods, keeping the pods in ``keep`` (oldest first)."""
    thash = naming.template_hash(namespace, name, _dump(template))
    tlabels = _labels(template.get("metadata"))
    containers = _containers(template.get("spec") or {}, "spec.template.spec")
    pods = list(keep)
    if kind == "StatefulSet":
        pods.sort(key=lambda k: int(k[1].rpartition("-")[2]))
    while len(pods) > replicas:  # the newest (or the highest ordinal) go first
        cluster = cluster.remove_pod(pods[-1][1], namespace)
        pods.pop()
    if kind == "DaemonSet":
        have_on = {cluster.pod_record(k[1], namespace).node for k in pods}
        targets = [n for n in range(cluster.node_count) if n not in have_on]
    else:
        counts = [len(node.pods) for node in cluster.node_records()]
        mine = [0] * cluster.node_count
        for k in pods:
            mine[cluster.pod_record(k[1], namespace).node] += 1
        targets = addons.place_replicas(counts, cluster.config.max_pods, replicas - len(pods), mine)
    names = _pod_names(cluster, kind, name, namespace, thash, len(targets), [k[1] for k in pods])
    for pod, node in zip(names, targets):
        cluster = cluster.add_pod(pod, node=node, labels=_pod_labels(kind, name, thash, tlabels, pod),
                                  containers=list(containers), namespace=namespace)
        pods.append((namespace, pod))
    return cluster, pods


def _apply_workload(cluster: "Cluster", obj: Mapping[str, Any], name: str, namespace: str,
                    old: "Workload | None") -> tuple["Cluster", tuple, str]:
    kind = obj["kind"]
    spec = obj.get("spec") or {}
    if kind == "Pod":
        containers = _containers(spec, "spec")
        if old is not None:
            now = _canonical(obj, namespace)
            if not spec.get("nodeName"):  # the scheduler filled it in; leaving it out changes nothing
                now["spec"] = {**spec, "nodeName": old.object["spec"]["nodeName"]}
            if _dump(now) == _dump(old.object):
                return cluster, old.pods, "unchanged"
            raise ManifestError(f'The Pod "{name}" is invalid: spec: Forbidden: pod updates may not change fields '
                                "other than the image and a few others; delete the pod (remove_pod) and apply it again")
        if spec.get("nodeName"):
            try:
                node = cluster.node_index(spec["nodeName"])
            except NetlabError as err:
                raise ManifestError(f"spec.nodeName: Invalid value: {_json(spec['nodeName'])}: {err}") from None
        else:
            node = addons.place_replicas([len(n.pods) for n in cluster.node_records()], cluster.config.max_pods, 1)[0]
        cluster = cluster.add_pod(name, node=node, labels=_labels(obj.get("metadata")), containers=list(containers),
                                  namespace=namespace)
        return cluster, ((namespace, name),), "created"
    template = spec.get("template")
    if not template:
        raise ManifestError("spec.template: Required value: the pod template the controller makes pods from")
    tlabels = _labels(template.get("metadata"))
    _selector(spec, tlabels)
    _containers(template.get("spec") or {}, "spec.template.spec")
    replicas = cluster.node_count if kind == "DaemonSet" else _replicas(spec)
    keep: list[tuple[str, str]] = []
    verb = "created"
    if old is not None:
        alive = [k for k in old.pods if cluster.find_pod(k[1], k[0]) is not None]
        before = old.object
        if _dump(before.get("spec", {}).get("template")) == _dump(template):
            keep = alive
        else:
            for k in alive:
                cluster = cluster.remove_pod(k[1], k[0])
        verb = "unchanged" if _dump(before) == _dump(_canonical(obj, namespace)) and len(keep) == replicas \
            else "configured"
    cluster, pods = _scale(cluster, kind, name, namespace, template, replicas, keep)
    return cluster, tuple(pods), verb


def _service_kwargs(spec: Mapping[str, Any]) -> dict[str, Any] | str:
    """``add_service`` keywords from a Service's spec, or why netlab does not build it."""
    stype = spec.get("type", "ClusterIP")
    if stype == "ExternalName":
        return "an ExternalName Service is a DNS alias: kube-proxy writes nothing for it"
    if spec.get("clusterIP") == "None":
        return "a headless Service (clusterIP: None) has no virtual IP: kube-proxy writes nothing for it"
    fam = spec.get("ipFamilies")
    if (fam and fam != ["IPv4"]) or spec.get("ipFamilyPolicy", "SingleStack") != "SingleStack":
        raise ManifestError(f"spec.ipFamilies: Invalid value: {_json(fam)}: netlab's clusters are IPv4 single-stack; "
                            "leave ipFamilies and ipFamilyPolicy out")
    ips = spec.get("clusterIPs")
    if ips and spec.get("clusterIP") and ips[0] != spec["clusterIP"]:
        raise ManifestError(f"spec.clusterIPs[0]: Invalid value: {_json(ips)}: must match `clusterIP`")
    timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    return dict(selector=spec.get("selector"), ports=spec.get("ports"), type=stype,
                external_traffic_policy=spec.get("externalTrafficPolicy"),
                internal_traffic_policy=spec.get("internalTrafficPolicy", "Cluster"),
                session_affinity=spec.get("sessionAffinity", "None"), session_affinity_timeout=timeout,
                cluster_ip=spec.get("clusterIP") or (ips[0] if ips else None),
                load_balancer_source_ranges=spec.get("loadBalancerSourceRanges"),
                external_ips=spec.get("externalIPs"))


def _objects(docs: list[tuple[int, Any]]):
    """Each object with its document number and its path there (a List's items are ``items[i]``)."""
    for number, doc in docs:
        if isinstance(doc, Mapping) and doc.get("kind") == "List":
            for i, item in enumerate(doc.get("items") or ()):
                yield number, f"items[{i}]", item
        else:
            yield number, "", doc


def apply(cluster: "Cluster", source: Any, namespace: str = "default") -> "Cluster":
    """See :meth:`netlab.Cluster.apply`."""
    label, docs = read(source)
    if not docs:
        raise ManifestError(f"error: no objects passed to apply: {label} holds no YAML or JSON object; give "
                            "the manifest's text (apiVersion, kind, metadata, spec) or its file's path")
    lines: list[str] = []
    for number, at, obj in _objects(docs):
        where = f"{label}, document {number}" + (f", {at}" if at else "")
        if not isinstance(obj, Mapping):
            raise ManifestError(f"error: error validating {where}: expected an object with apiVersion, kind, metadata "
                                f"and spec, found {type(obj).__name__} {_json(obj)[:40]}")
        kind, version = obj.get("kind"), obj.get("apiVersion")
        missing = [f for f, v in (("apiVersion", version), ("kind", kind)) if not v]
        if missing:
            raise ManifestError(f"error: error validating {where}: error validating data: "
                                f"[{', '.join(m + ' not set' for m in missing)}]")
        name = (obj.get("metadata") or {}).get("name") if isinstance(obj.get("metadata"), Mapping) else None
        if kind not in schema.KINDS:
            group = str(version).rpartition("/")[0]
            served = schema.OTHER_KINDS.get(kind)
            if served is not None and version in served:
                why = _WHY_NOT.get(kind, "netlab builds Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets "
                                         "and Services")
                lines.append(f"{str(kind).lower()}/{name} not modelled, skipped: {why}")
                continue
            if served is None and group not in schema.BUILTIN_GROUPS:
                lines.append(f"{str(kind).lower()}.{group}/{name} not modelled, skipped: a custom resource of "
                             f"{group}; netlab models Kubernetes' own network objects")
                continue
            hint = (f": {kind} is served as apiVersion: {served[0]}" if served is not None else
                    "." + did_you_mean(str(kind), [*schema.KINDS, *schema.OTHER_KINDS]))
            raise ManifestError(f'error: resource mapping not found for name: "{name}" from {where}: no matches for '
                                f'kind "{kind}" in version "{version}"{hint}')
        want, resource = schema.KINDS[kind]
        if version != want:
            raise ManifestError(f'error: resource mapping not found for name: "{name}" from {where}: no matches for '
                                f'kind "{kind}" in version "{version}": a {kind} is served as apiVersion: {want}')
        if not name:
            raise ManifestError(f"error: error validating {where}: {kind}: metadata.name: Required value: "
                                "kubectl apply needs a name")
        notes: list[tuple[str, str, str]] = []
        ns = (obj.get("metadata") or {}).get("namespace") or namespace
        for what, value in (("metadata.name", name), ("metadata.namespace", ns)):
            if not isinstance(value, str) or len(value) > 253 or not _DNS1123.match(value):
                raise ManifestError(
                    f'error: {where}: The {kind} "{name}" is invalid: {what}: Invalid value: {_json(value)}: a '
                    "lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                    "and must start and end with an alphanumeric character (e.g. 'example.com')")
        if kind == "Pod" and cluster.workload("Pod", ns, name) is None and cluster.find_pod(name, ns) is not None:
            raise ManifestError(f'error: {where}: pod "{name}" already exists in namespace {ns}, built in Python '
                                f"(add_pod), not by apply; apply cannot take it over: remove_pod({name!r}) first, or "
                                "give the manifest's pod another name")
        try:
            check(obj, schema.top_level(kind), "", notes)
            if kind == "Service":
                kwargs = _service_kwargs(obj.get("spec") or {})
                if isinstance(kwargs, str):
                    lines.append(f"{resource}/{name} not modelled, skipped: {kwargs}")
                    continue
                old_svc = cluster.find_service(name, ns)
                state = "created"
                if old_svc is not None:
                    kept = cluster.workload(kind, ns, name)
                    if kept is not None and _dump(kept.object) == _dump(_canonical(obj, ns)):
                        lines.append(f"{resource}/{name} unchanged")
                        continue
                    cluster, state = cluster.remove_service(name, ns), "configured"
                cluster = cluster.add_service(name, namespace=ns, check_named_ports=False, **kwargs)
                pods: tuple = ()
            else:
                old = cluster.workload(kind, ns, name)
                cluster, pods, state = _apply_workload(cluster, obj, name, ns, old)
        except NetlabError as err:
            text = str(err)
            head = "" if text.startswith(("The ", "error:")) else f'The {kind} "{name}" is invalid: '
            raise ManifestError(f"error: {where} ({kind} {ns}/{name}): {head}{text}") from None
        canonical = _canonical(obj, ns)
        if kind == "Pod":
            canonical["spec"] = {**canonical.get("spec", {}),
                                 "nodeName": cluster.node_record(cluster.pod_record(name, ns).node).name}
        old_w = cluster.workload(kind, ns, name)
        made = [cluster.pod_record(k[1], k[0]).seq for k in pods]
        seq = old_w.seq if old_w is not None else min(made, default=cluster.next_seq())
        cluster = cluster.with_workload(Workload(kind, ns, name, json.dumps(canonical), pods, seq))
        lines.append(f"{resource}/{name} {state}")
        for fate in (schema.IGNORED, schema.NOT_MODELLED):
            got = [(p, why) for p, f, why in notes if f == fate and not p.startswith(("status", "metadata."))]
            if fate == schema.IGNORED and got:
                lines.append("  ignored (no effect on the network): " + ", ".join(p for p, _ in got))
            elif got:
                lines.extend(f"  not modelled: {p}: {why}" for p, why in got)
    return cluster.with_applied(tuple(lines))


# ----------------------------------------------------------------------------- writing
def pod_manifest(cluster: "Cluster", pod: Any) -> dict[str, Any]:
    """A pod as a Pod object: its labels, containers and ports, and the node it runs on."""
    meta: dict[str, Any] = {"name": pod.name, "namespace": pod.namespace}
    if pod.labels:
        meta["labels"] = dict(pod.labels)
    containers = []
    for c in pod.containers:
        d: dict[str, Any] = {"name": c.name}
        if c.ports:
            d["ports"] = [{"containerPort": p.port, **({"name": p.name} if p.name else {}), "protocol": p.protocol}
                          for p in c.ports]
        containers.append(d)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": cluster.node_record(pod.node).name, "containers": containers}}


def _service_manifest(entry: Any) -> dict[str, Any]:
    s = entry.spec
    spec: dict[str, Any] = {"type": s.type.value, "clusterIP": str(s.cluster_ips[0])}
    if entry.selector:
        spec["selector"] = dict(entry.selector)
    ports = []
    for p in s.ports:
        d: dict[str, Any] = {**({"name": p.name} if p.name else {}), "port": p.port, "targetPort": p.target_port,
                             "protocol": p.protocol}
        if p.node_port:
            d["nodePort"] = p.node_port
        ports.append(d)
    spec["ports"] = ports
    if s.external_traffic_policy is not None:
        spec["externalTrafficPolicy"] = s.external_traffic_policy.value
    if s.internal_traffic_policy.value != "Cluster":
        spec["internalTrafficPolicy"] = s.internal_traffic_policy.value
    if s.session_affinity.value != "None":
        spec["sessionAffinity"] = s.session_affinity.value
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": s.affinity_timeout}}
    if s.load_balancer_source_ranges:
        spec["loadBalancerSourceRanges"] = [str(n) for n in s.load_balancer_source_ranges]
    if s.external_ips:
        spec["externalIPs"] = [str(ip) for ip in s.external_ips]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": s.name, "namespace": s.namespace},
            "spec": spec}


def manifests(cluster: "Cluster", include_system: bool = False) -> list[dict[str, Any]]:
    """The cluster's workloads, pods of no workload, and Services, as API objects, oldest first.

    Objects ``apply`` built are written as applied; pods built in Python as Pods with their
    ``nodeName``, Services built in Python with their allocated ClusterIP and NodePorts. AKS's own
    objects (``default/kubernetes``, ``kube-system/kube-dns`` and CoreDNS's pods from
    ``add_coredns``) are left out unless ``include_system``.
    """
    from .services import default_services

    builtin = set(default_services(cluster.config).keys())
    docs: list[tuple[tuple, dict[str, Any]]] = []
    owned: set[tuple[str, str]] = set()
    applied_svcs: dict[tuple[str, str], Workload] = {}
    for w in cluster.workload_records():
        if w.kind == "Service":
            applied_svcs[(w.namespace, w.name)] = w
            continue
        alive = [k for k in w.pods if cluster.find_pod(k[1], k[0]) is not None]
        owned.update(alive)
        if w.kind == "Pod" and not alive:
            continue
        docs.append(((0, w.seq), w.object))
    for pod in cluster.pod_records():
        if pod.key not in owned and (include_system or pod.namespace != "kube-system"):
            docs.append(((0, pod.seq), pod_manifest(cluster, pod)))
    for e in cluster.service_records():
        if e.key in builtin and not include_system:
            continue
        kept = applied_svcs.get(e.key)
        docs.append(((1, e.seq), kept.object if kept is not None else _service_manifest(e)))
    docs.sort(key=lambda d: (d[0], d[1]["kind"], d[1]["metadata"]["namespace"], d[1]["metadata"]["name"]))
    return [d for _, d in docs]


def to_manifests(cluster: "Cluster", include_system: bool = False) -> str:
    """:func:`manifests` as multi-document YAML."""
    import yaml

    docs = manifests(cluster, include_system)
    if not docs:
        return ""
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)
