"""Imports run one way: the shared core, then the job, then the site and the commands.

core/ imports neither the job nor the site nor the commands; indexer/ never imports the site
or the commands; webapp/ never imports the job (where torch is); samples/ (drawn pictures)
imports nothing of the project but itself. Read from the source files with `ast`, so an
import inside a function counts too.
"""
import ast
from pathlib import Path

import pytest

from tests.support.commands import ROOT

PACKAGES = ("core", "indexer", "webapp", "scripts", "benchmarks", "samples", "tests")
# What each lower package must never import.
FORBIDDEN = {
    "core": {"indexer", "webapp", "scripts", "benchmarks", "samples", "tests"},
    "indexer": {"webapp", "scripts", "benchmarks", "tests"},
    "samples": {"core", "indexer", "webapp", "scripts", "benchmarks", "tests"},
    "webapp": {"indexer", "scripts", "benchmarks", "samples", "tests"},
}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """Return (top-level project package, line) of every absolute import in a file.

    Relative imports stay inside their own package, so they cannot cross these lines.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        else:
            continue
        found |= {(name.split(".")[0], node.lineno) for name in names
                  if name.split(".")[0] in PACKAGES}
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_run_one_way(package):
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {imported}"
             for path in sorted((ROOT / package).rglob("*.py"))
             for imported, line in sorted(imported_packages(path))
             if imported in FORBIDDEN[package]]
    assert not wrong, "\n".join(wrong)

