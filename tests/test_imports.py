"""The package's imports run one way: no module imports (at the top or inside a function) a module that
imports it back, however long the circle; and the low layers import nothing of fwilab."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "fwilab"


def _modules() -> dict[str, Path]:
    mods = {}
    for p in SRC.rglob("*.py"):
        parts = p.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = p
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                pkg = pkg[:len(pkg) - node.level + 1]
                base = ".".join(pkg + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
        for t in targets:
            while t not in mods and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in mods and t != name and t.startswith("fwilab"):
                out.add(t)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, mods) for m, p in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    graph = _graph()
    assert "fwilab.results" in graph and graph["fwilab.results"]    # the walk sees the package
    assert _cycles(graph) == []


def test_the_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_low_layers_import_nothing_of_fwilab_and_the_registry_knows_no_chapter():
    graph = _graph()
    for low in ("fwilab.files", "fwilab.devices", "fwilab.regime", "fwilab.physics.scheme"):
        assert graph[low] <= {"fwilab.physics.acquisition"}, f"{low} imports {graph[low]}"
    assert not any(m.startswith(("fwilab.data", "fwilab.experiments")) for m in graph["fwilab.config"])
    assert not any(m.startswith(("fwilab.claims", "fwilab.experiments")) for m in graph["fwilab.results"])
    assert not any(m.startswith("fwilab.experiments") for m in graph["fwilab.claims"])
