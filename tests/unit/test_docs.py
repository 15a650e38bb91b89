"""The documentation says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from assay.config import settings_reference

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_doc_lists_every_setting() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    block = re.search(r"<!-- settings:start -->\n(.*)<!-- settings:end -->", text, re.S)
    assert block is not None
    assert block.group(1) == settings_reference(), "run `python -m assay.config` and paste the table"


def test_readme_quick_start_is_two_make_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^(make \w+)", quick, re.M)
    assert commands == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test", "lint", "bench", "clean"):
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_docs_links_resolve() -> None:
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)\)", doc.read_text()):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to missing {target}"


def test_architecture_doc_names_every_top_level_package_and_module() -> None:
    table = (ROOT / "docs" / "architecture.md").read_text().split("## Dependency rules", 1)[0]
    rows = re.findall(r"^\| `(assay\.[\w.]+)` \|", table, re.M)
    listed = set(rows)
    assert len(rows) == len(listed), "a package has two rows in docs/architecture.md"
    source = ROOT / "src" / "assay"
    present = {f"assay.{path.stem}" for path in source.glob("*.py") if path.stem not in {"__init__", "__main__"}}
    present |= {f"assay.{path.parent.name}" for path in source.glob("*/__init__.py")}
    assert present - listed == set(), "add a row to the package table in docs/architecture.md"
    assert listed - present == set(), "the package table in docs/architecture.md names code that is gone"
