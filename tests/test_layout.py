"""The package's layout is its architecture: subpackages by concern, each importing only the layers
below it, each saying in its docstring what it owns; no module reads another's private names.

These walk the source (``ast``), so they hold for imports inside functions too; imports under
``if TYPE_CHECKING:`` are annotations only and are not counted.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PKG = ROOT / "netlab"

#: Lowest first. A module may import its own layer and the layers before it, never one after.
LAYERS = (
    ("errors", ("netlab.errors",)),
    ("model", ("netlab.model",)),
    ("text", ("netlab.text",)),
    ("cni", ("netlab.cni",)),
    ("kubeproxy", ("netlab.kubeproxy",)),
    ("k8s", ("netlab.k8s",)),
    ("azure", ("netlab.azure",)),
    ("trace", ("netlab.trace",)),
    ("cluster", ("netlab.cluster",)),
    ("scenarios and comparisons", ("netlab.scenarios", "netlab.compare")),
    ("views", ("netlab.views",)),
    ("linux", ("netlab.linux",)),
    ("course", ("netlab.course", "netlab.quiz")),
    ("the package", ("netlab",)),
    ("command line", ("netlab.cli",)),
)

#: A module longer than this says in its docstring why it is one module ("Size: ...").
LONG = 600


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _layer(module: str) -> int:
    best, best_len = None, -1
    for i, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, sub.end_lineno + 1))
    return lines


def imports_of(module: str) -> list[tuple[int, str]]:
    """(line, imported netlab module) for every import the module runs."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skip = _type_checking_lines(tree)
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "netlab" or target.startswith("netlab."):
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    out.append((node.lineno, full if full in MODULES else target))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("netlab")]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("netlab")):
            out.append((node.lineno, node.args[0].value))
    return out


def test_every_module_is_in_a_layer():
    for module in MODULES:
        _layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    mine = _layer(module)
    upward = [f"line {line}: {target} ({LAYERS[_layer(target)][0]})" for line, target in imports_of(module)
              if _layer(target) > mine]
    assert not upward, f"{module} ({LAYERS[mine][0]}) imports upward: " + "; ".join(upward)


def test_the_layering_test_sees_lazy_and_relative_imports():
    """The walk finds an import written inside a function and a relative one (it cannot pass by blindness)."""
    lazy = [t for _line, t in imports_of("netlab.cluster.core")]
    assert "netlab.trace.walk" in lazy and "netlab.kubeproxy.modes" in lazy and "netlab.model.types" in lazy
    assert _layer("netlab.trace.walk") < _layer("netlab.cluster.core") < _layer("netlab.views.plot")


@pytest.mark.parametrize("package", sorted(p for p, path in MODULES.items() if path.name == "__init__.py"))
def test_every_package_says_what_it_owns(package):
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text()))
    assert doc and len(doc) > 80, f"{package}/__init__.py needs a docstring saying what the package owns"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_long_module_says_why_it_is_one(module):
    text = MODULES[module].read_text()
    if text.count("\n") <= LONG:
        return
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert "Size:" in doc, f"{module} has {text.count(chr(10))} lines: split it, or say why in its docstring (Size: ...)"


def _private_reads(text: str) -> list[str]:
    """``x._name`` where ``_name`` is not defined by the class the code is in (self/cls of the
    defining class), and ``module._name`` of another module."""
    tree = ast.parse(text)
    found = []

    def own_names(cls: ast.ClassDef) -> set[str]:
        names = set()
        for node in ast.walk(cls):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node in cls.body:
                names.add(node.name)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) \
                    and isinstance(node.value, ast.Name) and node.value.id == "self":
                names.add(node.attr)
        return names

    def visit(node: ast.AST, own: set[str]) -> None:
        if isinstance(node, ast.ClassDef):
            own = own_names(node)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                and not node.attr.endswith("_") and node.attr not in own:
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        for child in ast.iter_child_nodes(node):
            visit(child, own)

    visit(tree, set())
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_reads_another_modules_private_names(module):
    reads = _private_reads(MODULES[module].read_text())
    assert not reads, f"{module} reads private names it does not own: " + "; ".join(reads)


def test_the_private_name_test_catches_a_read():
    import textwrap

    sample = textwrap.dedent('''
        class A:
            _x: int = 0
            def f(self, other):
                return self._x + other._x   # its own field: allowed
        class B:
            def g(self, a):
                return a._x                  # another class's field: caught
        def h(cluster):
            return cluster._nodes            # caught
    ''')
    assert _private_reads(sample) == ["line 8: a._x", "line 10: cluster._nodes"]


def test_every_package_ships_in_the_wheel():
    """pyproject lists packages by name: a new subpackage left out would be missing from the install."""
    import re

    listed = set(re.findall(r'"(netlab[\w.]*)"', re.search(r"packages = \[([^\]]*)\]",
                                                          (ROOT / "pyproject.toml").read_text()).group(1)))
    found = {m for m, path in MODULES.items() if path.name == "__init__.py"}
    assert found <= listed, f"add to pyproject.toml's packages: {sorted(found - listed)}"
