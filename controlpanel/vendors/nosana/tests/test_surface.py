"""The form and the twin use the Nosana package through its public surface only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import providers.nosana

HERE = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module", ["form.py", "twin.py"])
def test_nosana_surface_is_all_the_form_and_twin_import(module):
    tree = ast.parse((HERE / module).read_text())
    imported = [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("providers.nosana")
        for alias in node.names
    ]
    assert imported, "the module no longer imports from providers.nosana"
    assert {m for m, _ in imported} == {"providers.nosana"}  # never a submodule
    assert {name for _, name in imported} <= set(providers.nosana.__all__)
