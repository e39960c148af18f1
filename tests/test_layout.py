"""The package by stage: each stage imports only the stages docs/ARCHITECTURE.md lists for it.

Imports inside functions count too, so a lazy import cannot hide an arrow back up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import qa

ROOT = Path(qa.__file__).parent
FOUNDATION = {"qa.types", "qa.errors", "qa.config", "qa.text", "qa.storage"}
STAGES = {
    "qa.collections",
    "qa.search",
    "qa.ingest",
    "qa.answer",
    "qa.service",
    "qa.live",
    "qa.eval",
    "qa.api",
}

#: What each stage may import besides itself (and the package face, `qa`).
MAY_IMPORT: dict[str, set[str]] = {
    "qa.types": set(),
    "qa.errors": set(),
    "qa.config": set(),
    "qa.text": {"qa.types"},
    "qa.storage": {"qa.errors"},
    # The collections file and the feedback store: nothing of the pipeline, only its edges
    # (the server, the CLI, qa eval's export) read them.
    "qa.collections": {"qa.errors", "qa.config", "qa.storage"},
    "qa.search": FOUNDATION,
    "qa.ingest": FOUNDATION | {"qa.search"},
    "qa.answer": FOUNDATION | {"qa.search"},
    "qa.service": FOUNDATION | {"qa.search", "qa.ingest", "qa.answer"},
    "qa.live": FOUNDATION | {"qa.search", "qa.ingest", "qa.service"},
    "qa.eval": FOUNDATION | {"qa.collections", "qa.search", "qa.ingest", "qa.answer", "qa.service"},
    "qa.api": FOUNDATION
    | {"qa.collections", "qa.search", "qa.ingest", "qa.answer", "qa.service", "qa.live"},
    "qa.cli": FOUNDATION | STAGES,
    "qa.__main__": {"qa.cli"},
    "qa": set(),  # the package face: a docstring and the version
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def imported(path: Path) -> set[str]:
    return imported_by(path.read_text(), module_name(path), is_package=path.name == "__init__.py")


def imported_by(source: str, name: str, *, is_package: bool = False) -> set[str]:
    """Every qa module the source of module `name` imports, at any depth of its code."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m == "qa" or m.startswith("qa.")}


def modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


#: The modules of the package, not names inside them (an import of qa.__version__).
KNOWN = {module_name(p) for p in modules()}


@pytest.mark.parametrize("path", modules(), ids=lambda p: module_name(p))
def test_a_module_imports_only_the_stages_below_its_own(path: Path) -> None:
    stage = stage_of(module_name(path))
    assert stage in MAY_IMPORT, f"{stage} is no stage: add it to MAY_IMPORT and the docs"
    allowed = MAY_IMPORT[stage] | {stage, "qa"}
    wrong = sorted(m for m in imported(path) & KNOWN if stage_of(m) not in allowed)
    assert wrong == [], f"{module_name(path)} imports {wrong}; {stage} may import {allowed}"


def test_the_table_has_no_cycle() -> None:
    # Ordered so that each stage may import only stages before it: a topological order.
    order = ["qa.types", "qa.errors", "qa.config", "qa.text", "qa.storage", "qa.collections"]
    order += ["qa.search"]
    order += ["qa.ingest", "qa.answer", "qa.service", "qa.live", "qa.eval", "qa.api", "qa.cli"]
    for at, stage in enumerate(order):
        assert MAY_IMPORT[stage] <= set(order[:at]), stage


def test_every_stage_package_says_its_job_and_what_it_may_import() -> None:
    for stage in STAGES - {"qa.service"}:
        init = ROOT / stage.split(".")[1] / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in doc, f"{init} should say what the stage may import"


def test_the_import_scan_sees_lazy_and_relative_imports() -> None:
    # The check above is only as good as this scan: an import inside a function counts.
    lazy = "def f():\n    from qa.service import QAService\n    return QAService\n"
    assert imported_by(lazy, "qa.search.probe") == {"qa.service", "qa.service.QAService"}
    relative = "from ..answer import selection\nfrom . import index\n"
    assert imported_by(relative, "qa.search.probe") == {
        "qa.answer",
        "qa.answer.selection",
        "qa.search",
        "qa.search.index",
    }
