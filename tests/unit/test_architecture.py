"""The import rule of ``llm_engineering/`` (docs/ARCHITECTURE.md), checked on the source with ``ast``.

Each layer may import only the layers listed for it in :data:`MAY_IMPORT` (and itself):

    settings  <-  domain  <-  configs  <-  application  <-  infrastructure
                                                   ^
                                                   +----  model  <-  serving

``infrastructure`` and ``model`` are siblings: model code is handed its adapters, it never
imports them; ``serving`` assembles the app and may import every layer. Besides, no cycle between
packages, no private name (``_x``) imported from another package, no ZenML, no import of
``tools``, ``steps`` or ``pipelines``, and no ``tools.*`` command line written in the library.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = "llm_engineering"

MAY_IMPORT: dict[str, frozenset[str]] = {
    "settings": frozenset(),
    "domain": frozenset(),
    "configs": frozenset({"settings", "domain"}),
    "application": frozenset({"settings", "domain", "configs"}),
    "infrastructure": frozenset({"settings", "domain", "configs", "application"}),
    "model": frozenset({"settings", "domain", "configs", "application"}),
    "serving": frozenset({"settings", "domain", "configs", "application", "infrastructure", "model"}),
}
"""The layers each layer may import besides itself: the rule docs/ARCHITECTURE.md writes down."""

OUTSIDE = ("zenml", "tools", "steps", "pipelines")
"""Packages the library never imports: the orchestrator and the code that wraps the library."""

TOOLS_COMMAND = re.compile(r"\btools\.[a-z_]+")


@dataclass(frozen=True)
class Module:
    """One module of the library: its dotted name, its source, and whether it is a package's ``__init__``."""

    name: str
    source: str
    is_package: bool = False

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]


def library_modules(root: Path = ROOT) -> dict[str, Module]:
    """Every module under ``llm_engineering/``, by dotted name."""
    modules = {}
    for path in sorted((root / LIBRARY).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = Module(name, path.read_text(encoding="utf-8"), is_package)
    return modules


def layer_of(name: str) -> str:
    """``llm_engineering.model.evaluation.plan`` -> ``model``; the package root is its own layer."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _docstrings(tree: ast.AST) -> set[int]:
    """The string statements of ``tree``: docstrings of modules, classes, functions and attributes."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def imports_of(module: Module, modules: dict[str, Module]) -> list[tuple[str, str, int]]:
    """``(imported module, imported name or "", line)`` for every import in ``module``, resolved."""
    found = []
    for node in ast.walk(ast.parse(module.source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.package.split(".")[: len(module.package.split(".")) - (node.level - 1)]
                target = ".".join([*base, target] if target else base)
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in modules:  # ``from package import module``
                    found.append((submodule, "", node.lineno))
                else:
                    found.append((target, alias.name, node.lineno))
    return found


def _package_of(name: str, modules: dict[str, Module]) -> str:
    module = modules.get(name)
    return module.package if module is not None else name


def _nested(package: str, other: str) -> bool:
    """Whether one package is the other or holds it (``model`` and ``model.runtimes``): a package
    composes its subpackages, and they may use its shared modules, so that is no cycle."""
    return package == other or package.startswith(f"{other}.") or other.startswith(f"{package}.")


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def violations(modules: dict[str, Module]) -> list[str]:
    """Every breach of the import rule in ``modules``, one line each (empty: the rule holds)."""
    found = []
    package_edges: dict[str, set[str]] = {}
    for module in modules.values():
        layer = layer_of(module.name)
        for target, name, line in imports_of(module, modules):
            where = f"{module.name}:{line}"
            top = target.split(".")[0]
            if top in OUTSIDE:
                found.append(f"{where} imports {target}: the library never imports {top}")
                continue
            if top != LIBRARY:
                continue
            target_layer = layer_of(target)
            if target_layer != layer and target_layer not in MAY_IMPORT.get(layer, frozenset()):
                found.append(f"{where} imports {target}: {layer} may not import {target_layer}")
            target_package = _package_of(target, modules)
            if name.startswith("_") and not name.startswith("__") and target_package != module.package:
                found.append(f"{where} imports the private {name} of {target} from another package")
            if not _nested(module.package, target_package):
                package_edges.setdefault(module.package, set()).add(target_package)
        tree = ast.parse(module.source)
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                command = TOOLS_COMMAND.search(node.value)
                if command:
                    found.append(
                        f"{module.name}:{node.lineno} writes the command {command.group()!r}: "
                        "pass it in from tools/commands.py"
                    )
    found += [f"cycle between packages: {' <-> '.join(cycle)}" for cycle in _cycles(package_edges)]
    return list(dict.fromkeys(found))  # one line per import, however many names it takes


def test_the_library_keeps_its_import_rule() -> None:
    modules = library_modules()
    assert len(modules) > 100  # the walk found the library
    assert {layer_of(name) for name in modules} <= {*MAY_IMPORT, LIBRARY}, "a new layer needs a rule"
    assert violations(modules) == []


def _with(name: str, source: str, *, is_package: bool = False) -> dict[str, Module]:
    """The real library plus one synthetic module."""
    return {**library_modules(), name: Module(name, source, is_package)}


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        (  # today's wrong-way import put back: configs reading the metric names from model
            "llm_engineering.configs.evaluating_again",
            "from llm_engineering.model.evaluation.metrics import VERSION_METRICS\n",
            "configs may not import model",
        ),
        (  # model code building its own adapter
            "llm_engineering.model.training.self_play_again",
            "from llm_engineering.infrastructure.llm.local import LocalTransformersClient\n",
            "model may not import infrastructure",
        ),
        (  # a relative import is resolved before it is judged
            "llm_engineering.domain.upward",
            "from ..application.feature_store import stored_author_names\n",
            "domain may not import application",
        ),
        (
            "llm_engineering.infrastructure.zenml_scheduler",
            "from zenml.client import Client\n",
            "the library never imports zenml",
        ),
        (
            "llm_engineering.serving.backends_again",
            "from llm_engineering.model.generation import _private_helper\n",
            "imports the private _private_helper",
        ),
        (
            "llm_engineering.serving.control_again",
            'COMMAND = ["python", "-m", "tools.run", "training"]\n',
            "writes the command 'tools.run'",
        ),
        (
            "llm_engineering.application.run_again",
            "import tools.run\n",
            "the library never imports tools",
        ),
    ],
)
def test_each_kind_of_breach_is_caught(name: str, source: str, expected: str) -> None:
    found = violations(_with(name, source))
    assert any(expected in line for line in found), found


def test_a_cycle_between_packages_is_caught() -> None:
    # application.rag importing from application.datasets while datasets imports rag: the cycle the
    # LLM port made when it lived in application/datasets/.
    found = violations(
        _with(
            "llm_engineering.application.rag.port_again",
            "from llm_engineering.application.datasets import storage\n",
        )
    )
    assert any(
        "cycle between packages" in line and "llm_engineering.application.rag" in line for line in found
    ), found


def test_a_docstring_may_name_a_command_and_a_package_may_use_its_own_private_names() -> None:
    source = '"""Started as ``python -m tools.run``."""\nfrom llm_engineering.domain.chat import _private\n'
    assert violations(_with("llm_engineering.domain.chat_notes", source)) == []
