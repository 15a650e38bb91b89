"""Options and helpers shared by every command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assay.config import Settings, load_settings
from assay.instance import Instance, open_instance

console = Console()
err_console = Console(stderr=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="ASSAY_DATA_DIR", help="Data directory.", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def settings_for(data_dir: Path | None, **overrides: object) -> Settings:
    return load_settings(data_dir=data_dir, **overrides)


def instance_for(data_dir: Path | None) -> Instance:
    return open_instance(settings_for(data_dir))
