"""The project installs as a package: ``pip wheel .`` builds a wheel with every module, the
documentation pages and the static assets, and the installed package serves the app from
any working directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "requirements.txt", "dashapp", "assets")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (the build leaves nothing in the checkout)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = out.glob("dashapp-*.whl")
    return built


def test_the_wheel_holds_every_module_the_docs_and_the_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "dashapp").rglob("*")
        if p.suffix in (".py", ".md") and "__pycache__" not in p.parts
    }
    assert modules <= names, sorted(modules - names)[:5]
    assets = {
        "dashapp/assets/" + p.relative_to(ROOT / "assets").as_posix()
        for p in (ROOT / "assets").rglob("*")
        if p.is_file()
    }
    assert assets and assets <= names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: dash==4.4.1" in text  # the pinned requirements


def test_the_installed_package_serves_the_app_from_anywhere(wheel, tmp_path):
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    probe = (
        "import dashapp, dashapp.config as c\n"
        "from dashapp import create_app\n"
        "app = create_app(c.Settings.from_env(env={'CACHE_TYPE': 'SimpleCache'}))\n"
        "client = app.server.test_client()\n"
        "css = client.get('/assets/app.css')\n"
        "print(dashapp.__file__, c.assets_dir(), c.DEFAULT_DATA_DIR, css.status_code,"
        " client.get('/health').status_code, sep='|')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    package, assets, data_dir, css, health = run.stdout.strip().splitlines()[-1].split("|")
    assert package.startswith(str(target))
    assert assets == str(target / "dashapp" / "assets")
    assert data_dir == str(tmp_path / "data")  # data/ below the working directory
    assert (css, health) == ("200", "200")
