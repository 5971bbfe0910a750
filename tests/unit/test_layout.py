"""The house: the import contracts hold, and the installed package ships production code only."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold():
    """.importlinter: layers one way, serving over the pipeline, no generator, lineage a leaf,
    no cycles. Broken contracts are printed with the chain of imports that breaks them."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_wheel_does_not_ship_the_generator_or_the_tests():
    conf = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    include = conf["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = find_packages(where=str(REPO), include=include)
    assert "jobs.pipeline.quality" in shipped and "lineage" in shipped
    assert not [p for p in shipped if p.split(".")[0] in ("samplecity", "tests", "bench")]


def test_every_production_module_imports():
    """A moved or renamed name breaks here, not in the one command that imports it."""
    import importlib
    import pkgutil

    import jobs
    import lineage

    names = [
        m.name
        for pkg in (jobs, lineage)
        for m in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}.")
    ]
    assert len(names) > 80
    for name in names:
        importlib.import_module(name)
