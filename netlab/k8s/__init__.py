"""Kubernetes API objects above the pods: Services, their EndpointSlices, and add-ons.

Owns Service checking and allocation (ClusterIPs, NodePorts, load balancer addresses), the
EndpointSlices the controller writes and ``kubectl get svc,endpointslices`` (:mod:`.services`),
and CoreDNS as AKS deploys it (:mod:`.addons`).
"""
