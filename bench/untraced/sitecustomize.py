"""A build of the product without tracing code paths, for ``bench/burst.py --tracing-cost`` only.

A process started with this directory on ``PYTHONPATH`` imports this module at start-up (``site`` does), and it
compiles every module of ``vk_controller`` and ``vk_provider_sdk`` from source with the tracing call sites removed,
as if they had never been written: ``with tracing.span(...)`` and ``with tracing.server_span(...)`` become their
bodies, and ``tracing.grpc_metadata()``, ``tracing.current_trace_id()`` and ``tracing.enabled()`` become the
constants they return with tracing off. Nothing is cached (the ``.pyc`` files stay those of the real product), and
each rewritten module is reported on stderr (``untraced: <module>: <n> sites``) so the benchmark can check that it
measured what it claims. Product code never imports this.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Collection, Sequence
from types import CodeType, ModuleType

PACKAGES = ("vk_controller", "vk_provider_sdk")
SPANS = frozenset({"span", "server_span"})
CONSTANTS = {"grpc_metadata": None, "current_trace_id": None, "enabled": False}


def _tracing_call(node: ast.AST, names: Collection[str]) -> str | None:
    """``name`` when ``node`` is ``tracing.<name>(...)`` with a name of ``names``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "tracing"
        and node.func.attr in names
    ):
        return node.func.attr
    return None


class _Strip(ast.NodeTransformer):
    def __init__(self) -> None:
        self.sites = 0

    def _with(self, node: ast.With | ast.AsyncWith) -> ast.AST | list[ast.stmt]:
        self.generic_visit(node)
        kept = [item for item in node.items if _tracing_call(item.context_expr, SPANS) is None]
        if len(kept) == len(node.items):
            return node
        self.sites += len(node.items) - len(kept)
        if not kept:
            return node.body
        node.items = kept
        return node

    def visit_With(self, node: ast.With) -> ast.AST | list[ast.stmt]:
        return self._with(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> ast.AST | list[ast.stmt]:
        return self._with(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = _tracing_call(node, CONSTANTS)
        if name is None:
            return self.generic_visit(node)
        self.sites += 1
        return ast.copy_location(ast.Constant(CONSTANTS[name]), node)


class _UntracedLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> CodeType:
        tree = ast.parse(self.get_data(self.path), self.path)
        strip = _Strip()
        tree = ast.fix_missing_locations(strip.visit(tree))
        if strip.sites:
            print(f"untraced: {fullname}: {strip.sites} sites", file=sys.stderr, flush=True)
        code: CodeType = compile(tree, self.path, "exec", dont_inherit=True)
        return code


class _UntracedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".", 1)[0] not in PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _UntracedLoader(fullname, spec.loader.path)
        return spec


sys.meta_path.insert(0, _UntracedFinder())
