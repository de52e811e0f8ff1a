"""Every bad input gets a NetlabError that names the rule and the fix; the old cluster survives."""

import pytest

import netlab as nl


def test_malformed_cidr_names_the_format():
    with pytest.raises(nl.AddressError, match=r"pod_cidr '10\.244\.0\.0/33' is not an IPv4 CIDR block.*address/prefix-length"):
        nl.Cluster.aks("kubenet", pod_cidr="10.244.0.0/33")


def test_cidr_with_host_bits_suggests_the_network():
    with pytest.raises(nl.AddressError, match=r"has host bits set.*write 10\.244\.0\.0/16"):
        nl.Cluster.aks("kubenet", pod_cidr="10.244.0.1/16")


def test_malformed_address_explains_dotted_quad():
    with pytest.raises(nl.AddressError, match=r"dns_service_ip '10\.0\.0\.300' is not an IPv4 address: four numbers"):
        nl.Cluster.aks("kubenet", dns_service_ip="10.0.0.300")


def test_pod_cidr_overlapping_vnet_is_refused():
    with pytest.raises(nl.RangeConflictError, match=r"pod_cidr 10\.224\.0\.0/16 overlaps vnet_cidr 10\.224\.0\.0/12.*do not overlap"):
        nl.Cluster.aks("kubenet", pod_cidr="10.224.0.0/16")


def test_pod_cidr_overlapping_service_cidr_is_refused():
    with pytest.raises(nl.RangeConflictError, match=r"pod_cidr 10\.0\.0\.0/16 overlaps service_cidr 10\.0\.0\.0/16.*both a pod and a Service"):
        nl.Cluster.aks("kubenet", pod_cidr="10.0.0.0/16")


def test_service_cidr_overlapping_vnet_is_refused():
    with pytest.raises(nl.RangeConflictError, match=r"service_cidr 10\.225\.0\.0/16 overlaps vnet_cidr"):
        nl.Cluster.aks("azure-cni", service_cidr="10.225.0.0/16", dns_service_ip="10.225.0.10")


def test_subnet_outside_vnet_is_refused():
    with pytest.raises(nl.RangeConflictError, match=r"subnet_cidr 10\.50\.0\.0/16 is not inside vnet_cidr"):
        nl.Cluster.aks("kubenet", subnet_cidr="10.50.0.0/16")


@pytest.mark.parametrize("cidr", ["169.254.0.0/16", "172.30.0.0/16", "172.31.0.0/16", "192.0.2.0/24"])
def test_azure_forbidden_ranges_are_refused(cidr):
    with pytest.raises(nl.RangeConflictError, match=r"which AKS does not allow.*169\.254\.0\.0/16, 172\.30\.0\.0/16"):
        nl.Cluster.aks("kubenet", pod_cidr=cidr)


@pytest.mark.parametrize("max_pods", [9, 251, 0])
def test_max_pods_outside_10_to_250(max_pods):
    with pytest.raises(nl.ConfigError, match=r"max pods per node must be from 10 to 250"):
        nl.Cluster.aks("azure-cni", max_pods=max_pods)


def test_kubenet_beyond_400_nodes_hits_the_route_table_limit():
    with pytest.raises(nl.RouteLimitError, match=r"one route per node.*at most 400 routes"):
        nl.Cluster.aks("kubenet", nodes=401, pod_cidr="10.244.0.0/15")


def test_kubenet_400_nodes_is_allowed():
    assert nl.Cluster.aks("kubenet", nodes=400, pod_cidr="10.244.0.0/15").node_count == 400


def test_azure_cni_subnet_exhausted_gives_formula_and_size():
    with pytest.raises(nl.SubnetExhaustedError) as err:
        nl.Cluster.aks("azure-cni", nodes=50, subnet_cidr="10.224.0.0/24")
    msg = str(err.value)
    assert "(nodes + surge) + (nodes + surge) * max_pods = (50 + 1) + (50 + 1) * 30 = 1,581" in msg
    assert "Use a /21 or larger" in msg
    assert "251 usable" in msg


def test_azure_cni_slash_24_holds_eight_nodes():
    assert nl.Cluster.aks("azure-cni", nodes=8, subnet_cidr="10.224.0.0/24").node_count == 8
    with pytest.raises(nl.SubnetExhaustedError):
        nl.Cluster.aks("azure-cni", nodes=9, subnet_cidr="10.224.0.0/24")


def test_add_node_beyond_subnet_keeps_old_cluster():
    c = nl.Cluster.aks("azure-cni", nodes=8, subnet_cidr="10.224.0.0/24")
    with pytest.raises(nl.SubnetExhaustedError):
        c.add_node()
    assert c.node_count == 8


def test_node_out_of_pod_addresses_names_node_and_fix():
    c = nl.Cluster.aks("azure-cni", nodes=1, max_pods=10)
    for i in range(10):
        c = c.add_pod(f"p{i}", node=0)
    with pytest.raises(nl.NodeFullError, match=r"pod p10 needs an address, but node aks-nodepool1-\d{8}-vmss000000 has used all 10 pod addresses it reserved \(Azure CNI pre-allocates max_pods addresses per node\); raise max_pods or add a node"):
        c.add_pod("p10", node=0)
    assert len(c.pods) == 10


def test_unknown_pod_in_trace_suggests_closest(kubenet2):
    with pytest.raises(nl.NotFoundError, match=r"unknown destination 'api-O'.*Did you mean 'api-0'\?"):
        kubenet2.trace("web-0", "api-O")


def test_unknown_node_suggests_closest(kubenet2):
    name = kubenet2.nodes[1].name
    with pytest.raises(nl.NotFoundError, match=r"Did you mean '" + name + "'"):
        kubenet2.add_pod("x", node=name[:-1] + "2")


def test_node_index_out_of_range_says_how_many(kubenet2):
    with pytest.raises(nl.NotFoundError, match=r"there is no node 5: this cluster has 2 node\(s\), numbered 0 to 1"):
        kubenet2.add_pod("x", node=5)


def test_duplicate_pod_name_in_namespace(kubenet2):
    with pytest.raises(nl.DuplicateError, match=r"pod web-0 already exists in namespace default: pod names are unique within a namespace"):
        kubenet2.add_pod("web-0", node=1)


def test_same_name_in_another_namespace_is_fine(kubenet2):
    c = kubenet2.add_pod("web-0", node=1, namespace="staging")
    assert c.pods["staging/web-0"].ip != c.pods["web-0"].ip


def test_two_containers_same_port_share_one_namespace(kubenet2):
    with pytest.raises(nl.PortConflictError, match=r"containers 'a' and 'b' both listen on TCP port 80, but containers of one pod share one network namespace"):
        kubenet2.add_pod("x", containers=[nl.Container("a", ports=[80]), nl.Container("b", ports=[80])])


def test_same_port_different_protocol_is_allowed(kubenet2):
    c = kubenet2.add_pod("dns", containers=[nl.Container("tcp", ports=[nl.ContainerPort(53, protocol="TCP")]),
                                            nl.Container("udp", ports=[nl.ContainerPort(53, protocol="UDP")])])
    assert "dns" in c.pods


def test_dns_ip_outside_service_cidr():
    with pytest.raises(nl.RangeConflictError, match=r"dns_service_ip 10\.1\.0\.10 is outside service_cidr 10\.0\.0\.0/16: kube-dns is a Service"):
        nl.Cluster.aks("kubenet", dns_service_ip="10.1.0.10")


def test_dns_ip_equal_to_first_service_address():
    with pytest.raises(nl.RangeConflictError, match=r"10\.0\.0\.1 is the first address of the service range and belongs to the 'kubernetes' Service"):
        nl.Cluster.aks("kubenet", dns_service_ip="10.0.0.1")


def test_bad_pod_name_explains_dns_rules(kubenet2):
    with pytest.raises(nl.ConfigError, match=r"lowercase letters, digits, '-' and '.'"):
        kubenet2.add_pod("Web_0")


def test_unknown_plugin_lists_choices():
    with pytest.raises(nl.ConfigError, match=r"unknown network plugin 'calico': choose one of 'none', 'kubenet', 'azure-cni', 'azure-cni-overlay'"):
        nl.Cluster.aks("calico")


def test_bad_port_in_trace(kubenet2):
    with pytest.raises(nl.ConfigError, match=r"a port is a whole number from 1 to 65535"):
        kubenet2.trace("web-0", "api-0", port=70000)


def test_none_plugin_address_as_source_is_ambiguous():
    c = nl.Cluster.aks("none", nodes=2).add_pod("a", node=0).add_pod("b", node=1)
    with pytest.raises(nl.ConfigError, match=r"belongs to more than one pod.*name the pod instead"):
        c.trace("172.17.0.2", "internet")


def test_every_error_is_a_netlab_error():
    for cls in (nl.AddressError, nl.RangeConflictError, nl.ConfigError, nl.SubnetExhaustedError,
                nl.NodeFullError, nl.RouteLimitError, nl.NotFoundError, nl.DuplicateError,
                nl.PortConflictError, nl.ServiceError, nl.EnvironmentUnavailableError):
        assert issubclass(cls, nl.NetlabError)


def test_failed_operation_leaves_previous_cluster_untouched(kubenet2):
    before = kubenet2.kubectl_get_pods()
    for bad in (lambda: kubenet2.add_pod("web-0"), lambda: kubenet2.add_pod("x", node=9),
                lambda: kubenet2.with_plugin("azure-cni", max_pods=10, subnet_cidr="10.224.0.0/29")):
        with pytest.raises(nl.NetlabError):
            bad()
    assert kubenet2.kubectl_get_pods() == before
    assert kubenet2.plugin is nl.Plugin.KUBENET
