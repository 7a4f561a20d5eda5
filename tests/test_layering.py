"""providers/ is plain Python: no module below it may import Django (DESIGN.md, STYLE.md §2)."""

from __future__ import annotations

import ast
from pathlib import Path

PROVIDERS = Path(__file__).resolve().parent.parent / "providers"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_providers_never_import_django_or_the_panel():
    offenders = {
        str(path.relative_to(PROVIDERS.parent)): sorted(_imports(path) & {"django", "controlpanel"})
        for path in PROVIDERS.rglob("*.py")
        if _imports(path) & {"django", "controlpanel"}
    }
    assert offenders == {}


def test_layering_check_sees_every_adapter():
    # rglob, as above: a vendor may be a package (providers/together/).
    seen = {p.relative_to(PROVIDERS).with_suffix("").as_posix() for p in PROVIDERS.rglob("*.py")}
    assert seen >= {"base", "http", "together/provider", "together/rules"}
