"""The fields of the Kubernetes objects ``Cluster.apply`` reads, and what netlab does with each.

Every field the API server knows for the six kinds netlab builds (Pod, Deployment, ReplicaSet,
StatefulSet, DaemonSet, Service) is listed here with one of three fates:

* ``USED``: netlab reads it and the cluster shows its effect (names, labels, container ports,
  replicas, selectors, a Service's ports and policies...);
* ``IGNORED``: it has no effect on the network (an image, resources, volumes, probes other than
  readiness...); ``apply`` lists it under "no effect on the network";
* ``NOT_MODELLED``: a real cluster's network would differ, and netlab does not show how (a pod on
  the host network, a host port, node selectors and affinity that move a pod, a readiness probe
  that keeps a pod out of its Service...); ``apply`` lists it under "not modelled", with what
  netlab does instead.

A field the API server does not know is an error, as ``kubectl apply``'s strict field validation
makes it (``strict decoding error: unknown field "spec.replicass"``). Fields that hold whole
structures netlab does not read (``resources``, ``affinity``, ``volumes``...) are taken whole.

The field names are those of the Kubernetes API reference (``k8s.io/api`` core/v1 and apps/v1,
Kubernetes 1.35).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

USED, IGNORED, NOT_MODELLED = "used", "ignored", "not modelled"


@dataclass(frozen=True, slots=True)
class Field:
    """One field: its fate, the value's shape, and (for NOT_MODELLED) what netlab does instead.

    ``shape``: ``"str"``, ``"int"``, ``"bool"``, ``"map"`` (text keys and values), ``"any"`` (taken
    whole), an object (a dict of :class:`Field`), or a one-element tuple ``(shape,)`` for a list.
    """

    fate: str
    shape: Any = "any"
    instead: str = ""


def _f(fate: str, shape: Any = "any", instead: str = "") -> Field:
    return Field(fate, shape, instead)


def _ignored(*names: str) -> dict[str, Field]:
    return {n: Field(IGNORED) for n in names}


# metadata: what a learner writes, and what `kubectl get -o yaml` adds (the server's bookkeeping)
OBJECT_META = {
    "name": _f(USED, "str"),
    "namespace": _f(USED, "str"),
    "labels": _f(USED, "map"),
    "generateName": _f(NOT_MODELLED, "str", "kubectl apply needs metadata.name; give the object a name"),
    **_ignored("annotations", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
               "deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields", "selfLink"),
}

LABEL_SELECTOR = {
    "matchLabels": _f(USED, "map"),
    "matchExpressions": _f(NOT_MODELLED, "any", "netlab selects pods by matchLabels only"),
}

CONTAINER_PORT = {
    "containerPort": _f(USED, "int"),
    "name": _f(USED, "str"),
    "protocol": _f(USED, "str"),
    "hostPort": _f(NOT_MODELLED, "int", "the port is open on the pod's address only, not on the node's"),
    "hostIP": _f(NOT_MODELLED, "str", "the port is open on the pod's address only, not on the node's"),
}

CONTAINER = {
    "name": _f(USED, "str"),
    "ports": _f(USED, (CONTAINER_PORT,)),
    "readinessProbe": _f(NOT_MODELLED, "any", "netlab takes every pod as ready, so its Services send to it"),
    **_ignored("image", "imagePullPolicy", "command", "args", "workingDir", "env", "envFrom", "resources",
               "resizePolicy", "restartPolicy", "restartPolicyRules", "volumeMounts", "volumeDevices",
               "livenessProbe", "startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy",
               "securityContext", "stdin", "stdinOnce", "tty"),
}

_PLACEMENT = "netlab places the pod as the scheduler spreads pods that ask for nothing special"
POD_SPEC = {
    "containers": _f(USED, (CONTAINER,)),
    "nodeName": _f(USED, "str"),
    "hostNetwork": _f(NOT_MODELLED, "bool", "the pod gets its own network namespace and address, "
                                            "where a real one would share the node's"),
    "dnsPolicy": _f(NOT_MODELLED, "str", "pods send DNS to the kube-dns Service (ClusterFirst)"),
    "dnsConfig": _f(NOT_MODELLED, "any", "pods send DNS to the kube-dns Service (ClusterFirst)"),
    "hostAliases": _f(NOT_MODELLED, "any", "names are not resolved in netlab's traces"),
    "hostname": _f(NOT_MODELLED, "str", "names are not resolved in netlab's traces"),
    "subdomain": _f(NOT_MODELLED, "str", "names are not resolved in netlab's traces"),
    "setHostnameAsFQDN": _f(NOT_MODELLED, "bool", "names are not resolved in netlab's traces"),
    "nodeSelector": _f(NOT_MODELLED, "map", _PLACEMENT),
    "affinity": _f(NOT_MODELLED, "any", _PLACEMENT),
    "tolerations": _f(NOT_MODELLED, "any", _PLACEMENT),
    "topologySpreadConstraints": _f(NOT_MODELLED, "any", _PLACEMENT),
    "schedulingGates": _f(NOT_MODELLED, "any", _PLACEMENT),
    "readinessGates": _f(NOT_MODELLED, "any", "netlab takes every pod as ready, so its Services send to it"),
    **_ignored("initContainers", "ephemeralContainers", "volumes", "restartPolicy", "terminationGracePeriodSeconds",
               "activeDeadlineSeconds", "serviceAccountName", "serviceAccount", "automountServiceAccountToken",
               "securityContext", "imagePullSecrets", "hostPID", "hostIPC", "hostUsers", "shareProcessNamespace",
               "schedulerName", "priorityClassName", "priority", "preemptionPolicy", "runtimeClassName",
               "enableServiceLinks", "overhead", "os", "resourceClaims", "resources"),
}

POD_TEMPLATE = {
    "metadata": _f(USED, {**OBJECT_META}),
    "spec": _f(USED, POD_SPEC),
}

_WORKLOAD = {
    "replicas": _f(USED, "int"),
    "selector": _f(USED, LABEL_SELECTOR),
    "template": _f(USED, POD_TEMPLATE),
    **_ignored("minReadySeconds", "revisionHistoryLimit"),
}

DEPLOYMENT_SPEC = {**_WORKLOAD, **_ignored("strategy", "progressDeadlineSeconds", "paused")}
REPLICASET_SPEC = dict(_WORKLOAD)
STATEFULSET_SPEC = {
    **_WORKLOAD,
    "serviceName": _f(USED, "str"),
    "ordinals": _f(NOT_MODELLED, "any", "replicas are numbered from 0"),
    **_ignored("podManagementPolicy", "updateStrategy", "volumeClaimTemplates",
               "persistentVolumeClaimRetentionPolicy"),
}
DAEMONSET_SPEC = {k: v for k, v in _WORKLOAD.items() if k != "replicas"}
DAEMONSET_SPEC.update(_ignored("updateStrategy"))

SERVICE_PORT = {
    "name": _f(USED, "str"),
    "port": _f(USED, "int"),
    "targetPort": _f(USED, "any"),
    "protocol": _f(USED, "str"),
    "nodePort": _f(USED, "int"),
    **_ignored("appProtocol"),
}

_ONE_STACK = "netlab's clusters are IPv4 single-stack"
SERVICE_SPEC = {
    "type": _f(USED, "str"),
    "selector": _f(USED, "map"),
    "ports": _f(USED, (SERVICE_PORT,)),
    "clusterIP": _f(USED, "str"),
    "clusterIPs": _f(USED, ("str",)),
    "externalTrafficPolicy": _f(USED, "str"),
    "internalTrafficPolicy": _f(USED, "str"),
    "sessionAffinity": _f(USED, "str"),
    "sessionAffinityConfig": _f(USED, {"clientIP": _f(USED, {"timeoutSeconds": _f(USED, "int")})}),
    "loadBalancerSourceRanges": _f(USED, ("str",)),
    "externalIPs": _f(USED, ("str",)),
    "healthCheckNodePort": _f(USED, "int"),
    "ipFamilies": _f(USED, ("str",)),
    "ipFamilyPolicy": _f(USED, "str"),
    "loadBalancerIP": _f(NOT_MODELLED, "str", "the load balancer's public IP is allocated by netlab"),
    "loadBalancerClass": _f(NOT_MODELLED, "str", "the Azure load balancer serves every LoadBalancer Service"),
    "allocateLoadBalancerNodePorts": _f(NOT_MODELLED, "bool", "a LoadBalancer Service always gets NodePorts"),
    "publishNotReadyAddresses": _f(NOT_MODELLED, "bool", "netlab takes every pod as ready"),
    "trafficDistribution": _f(NOT_MODELLED, "str", "kube-proxy spreads over all endpoints, ignoring zones"),
    "externalName": _f(NOT_MODELLED, "str", "ExternalName Services are DNS aliases; kube-proxy writes nothing for them"),
}

SPECS = {
    "Pod": POD_SPEC,
    "Deployment": DEPLOYMENT_SPEC,
    "ReplicaSet": REPLICASET_SPEC,
    "StatefulSet": STATEFULSET_SPEC,
    "DaemonSet": DAEMONSET_SPEC,
    "Service": SERVICE_SPEC,
}

#: kind -> the apiVersion it is served under, and the resource name kubectl prints (``deployment.apps``).
KINDS = {
    "Pod": ("v1", "pod"),
    "Service": ("v1", "service"),
    "Deployment": ("apps/v1", "deployment.apps"),
    "ReplicaSet": ("apps/v1", "replicaset.apps"),
    "StatefulSet": ("apps/v1", "statefulset.apps"),
    "DaemonSet": ("apps/v1", "daemonset.apps"),
}


def top_level(kind: str) -> dict[str, Field]:
    """The fields of a whole object of ``kind``: apiVersion, kind, metadata, spec, status."""
    return {
        "apiVersion": _f(USED, "str"),
        "kind": _f(USED, "str"),
        "metadata": _f(USED, OBJECT_META),
        "spec": _f(USED, SPECS[kind]),
        "status": _f(IGNORED),  # what `kubectl get -o yaml` prints back; the server sets it
    }


#: Kinds netlab does not build, by the apiVersions the API server serves them under (Kubernetes 1.35):
#: ``apply`` lists them as not modelled and goes on; a kind in neither table is a typo or a kind of
#: another version, which the API server refuses (``no matches for kind``).
OTHER_KINDS = {
    "ConfigMap": ("v1",), "Secret": ("v1",), "Namespace": ("v1",), "ServiceAccount": ("v1",),
    "PersistentVolumeClaim": ("v1",), "PersistentVolume": ("v1",), "Endpoints": ("v1",), "LimitRange": ("v1",),
    "ResourceQuota": ("v1",), "ReplicationController": ("v1",), "Node": ("v1",), "Event": ("v1",),
    "EndpointSlice": ("discovery.k8s.io/v1",), "NetworkPolicy": ("networking.k8s.io/v1",),
    "Ingress": ("networking.k8s.io/v1",), "IngressClass": ("networking.k8s.io/v1",),
    "Job": ("batch/v1",), "CronJob": ("batch/v1",), "HorizontalPodAutoscaler": ("autoscaling/v2", "autoscaling/v1"),
    "PodDisruptionBudget": ("policy/v1",), "Role": ("rbac.authorization.k8s.io/v1",),
    "RoleBinding": ("rbac.authorization.k8s.io/v1",), "ClusterRole": ("rbac.authorization.k8s.io/v1",),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1",), "StorageClass": ("storage.k8s.io/v1",),
    "PriorityClass": ("scheduling.k8s.io/v1",), "CustomResourceDefinition": ("apiextensions.k8s.io/v1",),
    "Gateway": ("gateway.networking.k8s.io/v1",), "HTTPRoute": ("gateway.networking.k8s.io/v1",),
    "GatewayClass": ("gateway.networking.k8s.io/v1",),
}
#: API groups of Kubernetes itself: a kind under any other group (``cert-manager.io/v1``) is a custom resource.
BUILTIN_GROUPS = {v.rpartition("/")[0] for versions in OTHER_KINDS.values() for v in versions} | {"apps", ""}
