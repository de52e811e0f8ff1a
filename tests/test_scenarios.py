"""netlab.scenarios: each named cluster is the one its notebook builds, its fixture returns and the kernel check realises."""

import ast
import json
from pathlib import Path

import pytest
from test_services import shop  # noqa: F401 - the Service tests' fixture, compared below

import netlab as nl
from netlab.linux import agreement as lc
from netlab import scenarios

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _statements(notebook: str) -> list[ast.stmt]:
    """Every top-level statement of the notebook's code cells, in order."""
    cells = json.loads((NOTEBOOKS / f"{notebook}.ipynb").read_text())["cells"]
    out: list[ast.stmt] = []
    for cell in cells:
        if cell["cell_type"] == "code":
            out += ast.parse("".join(cell["source"])).body
    return out


def _targets(stmt: ast.stmt) -> set[str]:
    if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return set()
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def notebook_value(notebook: str, name: str):
    """The value the notebook binds to ``name``: the assignments it depends on, run in the notebook's order.

    Only the building steps run (not the traces, prints and figures around them), so the test reads the
    cluster exactly as the learner's cells make it.
    """
    statements = _statements(notebook)
    chosen: set[int] = set()
    wanted = [name]
    while wanted:
        var = wanted.pop()
        binders = [i for i, s in enumerate(statements) if var in _targets(s)]
        if not binders:
            continue  # nl, or a builtin
        assert len(binders) == 1, f"{notebook} binds {var} {len(binders)} times: a re-run would change it"
        i = binders[0]
        if i not in chosen:
            chosen.add(i)
            wanted += [n.id for n in ast.walk(statements[i].value) if isinstance(n, ast.Name)]
    namespace = {"nl": nl}
    module = ast.Module(body=[statements[i] for i in sorted(chosen)], type_ignores=[])
    exec(compile(module, f"{notebook}.ipynb", "exec"), namespace)
    return namespace[name]


@pytest.mark.parametrize("notebook, name, scenario", [
    ("00-start-here", "cluster", scenarios.hello_world),
    ("01-single-pod", "cluster", scenarios.single_pod),
    ("02-multiple-pods", "cluster", scenarios.multiple_pods),
    ("03-multiple-nodes", "cluster", scenarios.multiple_nodes),
    ("04-kubenet-routing", "cluster", scenarios.kubenet_routing),
    ("05-azure-cni", "cluster", scenarios.azure_cni),
    ("07-services", "cluster", scenarios.web_service),
    ("07-services", "cluster_all", scenarios.all_services),
    ("08-kube-proxy-modes", "cluster", scenarios.proxy_modes),
])
def test_each_notebook_builds_its_scenario(notebook, name, scenario):
    built = notebook_value(notebook, name)
    assert built == scenario()
    assert built.kubectl_get_pods(all_namespaces=True) == scenario().kubectl_get_pods(all_namespaces=True)
    assert built.kubectl_get_svc(all_namespaces=True) == scenario().kubectl_get_svc(all_namespaces=True)


def test_the_notebook_table_names_each_notebooks_last_cluster():
    for notebook, scenario in scenarios.NOTEBOOKS.items():
        name = "cluster_all" if notebook == "07-services" else "cluster"
        assert notebook_value(notebook, name) == scenario(), notebook


def test_fixtures_are_the_scenarios(kubenet2, shop):  # noqa: F811 - shop is test_services' fixture
    assert kubenet2 == scenarios.kubenet_two_nodes()
    assert shop == scenarios.shop()


@pytest.mark.parametrize("name", [n for n in scenarios.__all__ if n not in ("NOTEBOOKS",)])
def test_a_scenario_is_the_same_value_every_call(name):
    make = getattr(scenarios, name)
    assert make() == make()
    assert make() is not make()


def test_the_kernel_check_realises_the_notebooks_clusters():
    """Every notebook case of the kernel check is its notebook's cluster, under each plugin variant."""
    for variant in lc.VARIANTS:
        cases = {case.name: case.cluster for case in lc.scenarios(variant)}
        for notebook, scenario in scenarios.NOTEBOOKS.items():
            if notebook in cases:
                assert cases[notebook] == lc.with_variant(scenario(), variant), (variant, notebook)
        assert cases["services"] == scenarios.shop(probes=True, variant=variant)
    assert set(scenarios.NOTEBOOKS) - set(cases) == {"00-start-here", "08-kube-proxy-modes"}


def test_the_kernel_check_shop_adds_listening_clients_and_two_pods_to_the_tests_shop():
    test, kernel = scenarios.shop(), scenarios.shop(probes=True)
    assert set(kernel.pods) - set(test.pods) == {"api-0", "client2"}
    assert [kernel.pods[p].ip for p in test.pods] == [test.pods[p].ip for p in test.pods]
    assert kernel.pods["client"].containers[0].ports[0].port == 7000


@pytest.mark.parametrize("on", [False, True])
def test_the_hairpin_reproduction_is_one_pod_behind_its_own_service(on):
    c = scenarios.hairpin_repro(on)
    assert list(c.pods) == ["web-0"] and c.services["web"].endpoints == ["10.244.0.2:80"]
    assert c.config.hairpin_mode is on
