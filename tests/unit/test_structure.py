"""The package's shape: layers whose imports only go down, no module over 600 lines, no
function over 80 lines without the reason in a comment above it.

Layers, bottom to top: ``config`` < ``ingest`` < ``analytics`` < ``service`` < ``web`` < the
entry points (``dashapp/__init__``, ``__main__``, ``wsgi``). A module may import from its own
layer and the layers below. Ingest and analytics never import Dash, Flask or Plotly;
analytics imports only the standard library, numpy, pandas, scipy and scikit-learn.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "dashapp"
LAYERS = ("config", "ingest", "analytics", "service", "web", "entry")
WEB_LIBRARIES = {"dash", "dash_ag_grid", "dash_bootstrap_components", "flask", "flask_caching",
                 "plotly", "werkzeug"}  # fmt: skip
#: threadpoolctl is scikit-learn's own dependency, used to limit its BLAS threads.
ANALYTICS_LIBRARIES = {"numpy", "pandas", "scipy", "sklearn", "threadpoolctl"}
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. dashapp.service.views.rfm
    path: Path
    is_package: bool

    @property
    def layer(self) -> str:
        parts = self.name.split(".")
        if len(parts) == 1 or parts[1] in ("__main__", "wsgi"):
            return "entry"
        return parts[1] if parts[1] in LAYERS else "entry"


def modules(root: Path = PACKAGE) -> list[Module]:
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found.append(Module(".".join(parts), path, is_package))
    return found


def imports(module: Module) -> list[tuple[int, str]]:
    """(line, imported module) of every import, function-level ones included; ``from dashapp
    import service`` counts as ``dashapp.service``."""
    out = []
    for node in ast.walk(ast.parse(module.path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.name.split(".")
                if not module.is_package:
                    anchor = anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                out.append((node.lineno, f"{base}.{alias.name}" if base == "dashapp" else base))
    return out


def layer_of(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1:
        return "entry"
    return parts[1] if parts[1] in LAYERS else "entry"


def violations(root: Path = PACKAGE) -> list[str]:
    """Every import that goes up a layer or reaches a library its layer must not use."""
    found = []
    for module in modules(root):
        rank = LAYERS.index(module.layer)
        for line, target in imports(module):
            where = f"{module.path.relative_to(root.parent)}:{line}"
            top = target.split(".")[0]
            if top == root.name:
                if LAYERS.index(layer_of(target)) > rank:
                    found.append(f"{where}: {module.layer} imports {target} (a layer above)")
            elif module.layer in ("config", "ingest", "analytics") and top in WEB_LIBRARIES:
                found.append(f"{where}: {module.layer} imports {target}")
            elif (
                module.layer == "analytics"
                and top not in ANALYTICS_LIBRARIES
                and top not in sys.stdlib_module_names
                and top != "__future__"
            ):
                found.append(
                    f"{where}: analytics imports {target} (not numpy/pandas/scipy/sklearn)"
                )
    return found


def test_imports_only_go_down_the_layers():
    assert violations() == []


def test_every_layer_is_a_subpackage_with_modules():
    for layer in ("ingest", "analytics", "service", "web"):
        assert (PACKAGE / layer / "__init__.py").is_file(), layer
        assert {m.layer for m in modules()} >= {layer}
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "config.py", "wsgi.py"]


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "dashapp" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "dashapp"


def test_the_check_catches_upward_and_forbidden_imports(tmp_path):
    """The checker itself, on a small tree with one import of each kind that must fail."""
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "ingest/__init__.py": "",
            "ingest/read.py": "from dashapp.service import registry\n",
            "analytics/__init__.py": "",
            "analytics/rfm.py": "import numpy\nfrom . import stats\n",
            "analytics/stats.py": "def f():\n    import flask\n",
            "analytics/fit.py": "import statsmodels.api\n",
            "analytics/ok.py": "from dashapp.ingest import read\nimport os\n",
            "service/__init__.py": "",
            "service/views.py": "from dashapp import web\n",
            "web/__init__.py": "from dashapp.service import views\n",
        },
    )
    found = "\n".join(violations(root))
    assert "ingest imports dashapp.service" in found
    assert "analytics imports flask" in found
    assert "analytics imports statsmodels.api" in found
    assert "service imports dashapp.web" in found
    assert "ok.py" not in found and "rfm.py" not in found and "web/__init__" not in found


def test_no_module_over_600_lines():
    long = {
        str(m.path.relative_to(PACKAGE)): n
        for m in modules()
        if (n := len(m.path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def long_functions(root: Path = PACKAGE) -> list[str]:
    """Functions over 80 lines (def to last line) without a ``#`` comment right above them
    saying why."""
    found = []
    for module in modules(root):
        lines = module.path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            size = node.end_lineno - node.lineno + 1
            reason = first >= 2 and lines[first - 2].strip().startswith("#")
            if size > MAX_FUNCTION_LINES and not reason:
                found.append(f"{module.path.relative_to(root.parent)}:{node.lineno} {node.name}")
    return found


def test_no_function_over_80_lines_without_a_reason():
    assert long_functions() == []


def test_the_function_check_reads_the_comment(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(85))
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "big.py": f"def big():\n{body}\n",
            "why.py": f"# one table, read top to bottom\ndef why():\n{body}\n",
        },
    )
    assert long_functions(root) == ["dashapp/big.py:1 big"]


def test_the_wheel_declares_every_package_of_the_tree():
    """pyproject lists the packages (the top-level assets/ folder maps to dashapp.assets):
    a new subpackage must be listed, or an installed wheel would miss it."""
    import tomllib

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    tree = {m.name for m in modules() if m.is_package}
    assets = PACKAGE.parent / "assets"
    tree |= {"dashapp.assets"} | {
        "dashapp.assets." + ".".join(d.relative_to(assets).parts)
        for d in assets.rglob("*")
        if d.is_dir()
    }
    assert set(config["packages"]) == tree
    assert config["package-dir"] == {"dashapp.assets": "assets"}
