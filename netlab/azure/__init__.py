"""Azure around the cluster: its network and the load balancer in front of LoadBalancer Services.

Owns the private ranges Azure drops, the machines around the cluster (the internet, a VM in the
VNet, a peered VM, a host on premises), the node subnet's system and effective routes, kubenet's
route table and Azure CNI Overlay's routing domain (:mod:`.network`), and the Azure load balancer's
rules, health probes and outbound SNAT as ``az network lb`` shows them (:mod:`.lb`).
"""
