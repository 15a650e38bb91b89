"""Assay: SOC 2-ready by construction for AI platforms."""

from assay.errors import AssayError

__version__ = "0.1.0"

__all__ = ["AssayError", "__version__"]
