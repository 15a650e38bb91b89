"""The ``assay`` command line."""

from assay.cli.main import app, main

__all__ = ["app", "main"]
