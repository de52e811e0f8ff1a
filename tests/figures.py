"""The diagrams the notebooks draw, made by the notebooks' own statements, and a sweep of other clusters and traces."""

import ast
import contextlib
import pathlib

import netlab as nl
from netlab import scenarios
from test_scenarios import _statements, _targets

NOTEBOOKS_WITH_FIGURES = ("01-single-pod", "02-multiple-pods", "03-multiple-nodes", "04-kubenet-routing",
                          "05-azure-cni", "07-services", "09-your-own-cluster")
NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"


def notebook_figures():
    """``(name, diagram)`` for every ``nl.draw_cluster(...)`` (and ``nl.step_through(...)``) a notebook shows,
    evaluated after the statements it depends on, in the notebook's order."""
    out = []
    for notebook in NOTEBOOKS_WITH_FIGURES:
        statements = _statements(notebook)
        for k, stmt in enumerate(statements):
            if not isinstance(stmt, ast.Expr) or not any(f in ast.unparse(stmt) for f in ("draw_cluster", "step_through")):
                continue
            chosen, wanted = set(), [n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)]
            while wanted:
                var = wanted.pop()
                binders = [i for i, s in enumerate(statements[:k]) if var in _targets(s)]
                for i in binders[-1:]:
                    if i not in chosen:
                        chosen.add(i)
                        wanted += [n.id for n in ast.walk(statements[i]) if isinstance(n, ast.Name)]
            namespace = {"nl": nl}
            body = [statements[i] for i in sorted(chosen)]
            with contextlib.chdir(NOTEBOOKS):  # where a notebook runs: its data/ files are beside it
                exec(compile(ast.Module(body=body, type_ignores=[]), notebook, "exec"), namespace)
                value = eval(compile(ast.Expression(stmt.value), notebook, "eval"), namespace)
            if "step_through" in ast.unparse(stmt):
                value = value.diagram  # what the step-through draws (each step only restyles it)
            out.append((f"{notebook}: {ast.unparse(stmt)[:70]}", value))
    return out


def swept_figures():
    """Every named scenario under every plugin, bare and with traces between its pods and to and from hosts."""
    out = []
    for make in (scenarios.single_pod, scenarios.multiple_pods, scenarios.multiple_nodes, scenarios.kubenet_routing,
                 scenarios.azure_cni, scenarios.all_services, scenarios.shop, scenarios.kubenet_two_nodes):
        for variant in ("kubenet", "azure-cni", "azure-cni-bridge", "azure-cni-overlay", "none"):
            c = scenarios.with_variant(make(), variant)
            out.append((f"{make.__name__}/{variant}", nl.draw_cluster(c)))
            pods = [f"{ns}/{name}" for ns, name in c.pod_keys()]
            flows = [(pods[0], pods[-1]), (pods[-1], "internet"), ("vnet-vm", pods[0])]
            flows += [(pods[0], s.spec.name) for s in c.service_records() if s.spec.namespace == "default"][:3]
            lbs = [str(s.spec.load_balancer_ips[0]) for s in c.service_records() if s.spec.load_balancer_ips]
            flows += [("internet", ip) for ip in lbs[:1]]
            for src, dst in flows:
                t = c.trace(src, dst)
                out.append((f"{make.__name__}/{variant} {src}->{dst}", nl.draw_cluster(c, trace=t)))
    return out
