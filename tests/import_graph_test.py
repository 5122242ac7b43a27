"""The layers run one way: no import cycles in dtransfer, and no library module
imports ``configs`` or ``launch`` (those are used from a checkout).

The graph is read from the source with ``ast``, so imports inside functions
count too: a lazy import hides a cycle from Python, not from this test.
"""

import ast
import os

import dtransfer

ROOT = os.path.dirname(dtransfer.__file__)


def _modules() -> dict[str, str]:
  """{module name: file} of every dtransfer module."""
  out = {}
  base = os.path.dirname(ROOT)
  for folder, _, files in os.walk(ROOT):
    for f in files:
      if f.endswith(".py"):
        rel = os.path.relpath(os.path.join(folder, f), base)[:-3].split(os.sep)
        if rel[-1] == "__init__":
          rel = rel[:-1]
        out[".".join(rel)] = os.path.join(folder, f)
  return out


def _imports(name: str, path: str, known) -> set[str]:
  """Every module ``name`` imports (absolute names), wherever the statement is."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
  out = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      out.update(a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        parts = package.split(".")
        parts = parts[:len(parts) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
      for a in node.names:
        full = f"{base}.{a.name}"
        out.add(full if full in known else base)
  return out


def _graph():
  mods = _modules()
  return {m: _imports(m, p, mods) for m, p in mods.items()}, mods


def test_no_library_module_imports_configs_or_launch():
  graph, _ = _graph()
  bad = sorted((m, i) for m, imps in graph.items() for i in imps
               if i.split(".")[0] in ("configs", "launch"))
  assert not bad, f"library modules importing configs/launch: {bad}"


def test_no_import_cycles():
  graph, mods = _graph()
  edges = {m: {i for i in imps if i in mods and i != m} for m, imps in graph.items()}
  # Tarjan's strongly connected components.
  index, low, stack, on, cycles = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in edges[v]:
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      comp = []
      while True:
        w = stack.pop()
        on.discard(w)
        comp.append(w)
        if w == v:
          break
      if len(comp) > 1:
        cycles.append(sorted(comp))

  for v in sorted(edges):
    if v not in index:
      visit(v)
  assert not cycles, f"import cycles: {cycles}"
