"""Build hook: the PII scanner's hot modules are compiled to C extensions with mypyc.

The modules stay plain, type-checked Python (``src/assay/pii/_patterns.py``, ``_classify.py``,
``_validate.py``, ``detector.py``, ``_starts.py``); a built extension shadows its module, and without
one the Python source runs unchanged, with the same results (ADRs 0038, 0039). ``ASSAY_PURE_PYTHON=1`` skips
the compilation, for machines without a C compiler.
"""

from __future__ import annotations

import os

from setuptools import setup

COMPILED = [
    "src/assay/pii/_patterns.py",
    "src/assay/pii/_classify.py",
    "src/assay/pii/_validate.py",
    "src/assay/pii/detector.py",
    "src/assay/pii/_starts.py",
]


def _ext_modules() -> list[object]:
    if os.environ.get("ASSAY_PURE_PYTHON") == "1":
        return []
    from mypyc.build import mypycify

    # Our own small mypy configuration: the project's (pydantic plugin, every package) is for linting.
    return list(mypycify(["--config-file", "mypyc.ini", *COMPILED], opt_level="3", group_name="assay_pii_native"))


setup(ext_modules=_ext_modules())
