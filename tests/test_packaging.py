"""The package as pip installs it: the wheel holds every config, and the console commands, installed without the
checkout (not editable, run from elsewhere), find their configs and print their own --help."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import CONF, REPO

# Each console command, with keys its --help must show (its own options, composed from the installed configs).
HELP_SHOWS = {
    "manga-train": ["seed=0", "model=demo", "experiment=null"],
    "manga-colorize": ["mode=flat", "working_size=auto", "consistency=none"],
    "manga-evaluate": ["baseline_fit_pages=64", "data=synthetic"],
    "manga-export": ["format=safetensors", "output=null"],
    "manga-app": ["port=7860", "host=127.0.0.1"],
}


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kwargs)
    assert proc.returncode == 0, f"{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the checkout's sources (the build writes build/ and *.egg-info beside them),
    without network: setuptools comes from this environment."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "manga_cyclegan", source / "manga_cyclegan", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", out,
         source])
    (built,) = out.glob("manga_cyclegan-*.whl")
    return built


@pytest.mark.slow  # builds and installs the wheel, then each command in a fresh interpreter
def test_the_wheel_holds_every_config(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = {f"manga_cyclegan/conf/{p.relative_to(CONF).as_posix()}" for p in CONF.rglob("*.yaml")}
    assert {"manga_cyclegan/conf/train.yaml", "manga_cyclegan/conf/model/cyclegan.yaml"} <= configs
    assert configs <= names, f"configs missing from the wheel: {sorted(configs - names)}"
    assert "manga_cyclegan/conf/__init__.py" in names  # Hydra reads pkg://manga_cyclegan.conf only with it
    # The web page's own files: it loads nothing from elsewhere.
    assert {f"manga_cyclegan/web/static/{n}" for n in ("index.html", "app.js", "app.css")} <= names


@pytest.mark.slow
def test_the_installed_commands_print_their_own_help(wheel, tmp_path):
    target, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", target, wheel])
    # The environment's packages (torch, hydra, ...) stay; the package itself comes from the target only.
    env = {k: v for k, v in os.environ.items() if k not in ("MANGA_CYCLEGAN_ROOT", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    where = run([sys.executable, "-c", "import manga_cyclegan.conf as c; print(c.__file__)"], cwd=elsewhere, env=env)
    assert Path(where.stdout.strip()).is_relative_to(target), where.stdout

    running = {name: subprocess.Popen([target / "bin" / name, "--help"], cwd=elsewhere, env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE) for name in HELP_SHOWS}
    for name, proc in running.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name} --help failed:\n{stderr[-3000:]}"
        assert stdout.startswith(f"{name}: "), stdout
        for key in HELP_SHOWS[name]:
            assert f"  {key} " in stdout, f"{name} --help does not show {key}:\n{stdout}"
