"""The layout is a rule, not a habit: layers import only downwards, nothing imports in a circle,
smslib never imports streamlit, and no module grows past 800 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["app.py", "pages", "ui", "smslib"]

# What each layer of smslib may import from smslib (besides itself).
MAY_IMPORT = {
    "core": set(),
    "rules": {"core"},
    "sandbox": {"rules.text"},
    "gateway": {"core", "sandbox"},
    "store": {"core"},
    "services": {"core", "rules", "gateway", "store", "sandbox"},
    "cli": {"core", "rules", "gateway", "store", "services", "sandbox"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _python_files() -> list[Path]:
    files: list[Path] = []
    for source in SOURCES:
        path = ROOT / source
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def _imports(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports, relative imports resolved, ``from pkg import module`` included."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    files = _python_files()
    known = {_module_name(f) for f in files}
    return {_module_name(f): _imports(f, known) for f in files}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            # A package's __init__ re-exporting its own modules is not a circle of the design.
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _without_package_reexports(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # ``from . import x`` in a package's __init__ makes the package depend on its module; a module
    # importing its own package's public names back would then look circular. Judge modules instead.
    return {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}


def test_no_import_circles():
    assert _cycles(_without_package_reexports(_graph())) == []


def test_the_circle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "smslib" and len(parts) > 1 and parts[1] != "__main__" else None


def _allowed(layer: str, target: str) -> bool:
    target_rest = ".".join(target.split(".")[1:])
    if target.split(".")[:2] == ["smslib", layer] or target == "smslib":
        return True
    return any(target_rest == allowed or target_rest.startswith(allowed + ".") for allowed in MAY_IMPORT[layer])


def test_each_layer_imports_only_what_its_package_docstring_allows():
    wrong = []
    for module, targets in _graph().items():
        layer = _layer(module)
        if layer is None:
            continue
        assert layer in MAY_IMPORT, f"{module}: a new layer; add it to MAY_IMPORT and smslib/__init__.py"
        wrong += [f"{module} imports {t}" for t in sorted(targets) if t.startswith("smslib") and not _allowed(layer, t)]
    assert wrong == []


def _third_party(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "smslib").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_smslib_never_imports_streamlit(path):
    assert "streamlit" not in _third_party(path)


def test_the_face_never_talks_http_itself():
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]:
        assert not {"requests", "urllib3", "httpx"} & _third_party(path), path


@pytest.mark.parametrize("source", ["smslib", "ui", "pages"])
def test_no_module_over_800_lines(source):
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / source).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 800}
    assert long == {}


def test_every_package_says_what_lives_there_and_what_it_may_import():
    for init in [*(ROOT / "smslib").rglob("__init__.py"), ROOT / "ui" / "__init__.py"]:
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "import" in doc.lower(), f"{init.relative_to(ROOT)}: its docstring must say what it may import"


def test_every_page_opens_with_the_shared_shell():
    for page in (ROOT / "pages").glob("*.py"):
        assert "shell.enter_page(__file__)" in page.read_text(), page.name
