"""Build hook: a few hot modules are compiled to C extensions with mypyc.

The modules stay plain, type-checked Python: the PII scanner's (``src/assay/pii/_patterns.py``,
``_classify.py``, ``_validate.py``, ``detector.py``, ``_starts.py``; ADRs 0038, 0039) and the ledger's
hashing loops and personal-data screen (``src/assay/ledger/_rows.py``, ``_screen.py``; ADRs 0015, 0012). A built extension shadows its module, and
without one the Python source runs unchanged, with the same results. ``ASSAY_PURE_PYTHON=1`` skips
the compilation, for machines without a C compiler.

One extension is written in C: the ledger verifier's SQLite row reader
(``src/assay/ledger/_entry_reader.c``; ADR 0015, addendum 3). It needs the SQLite and OpenSSL
headers (Debian: ``libsqlite3-dev libssl-dev``); it is optional, so a machine without them builds
everything else and verifies through the Python reader, with the same verdicts.
"""

from __future__ import annotations

import os

from setuptools import Extension, setup

#: One group (one shared library) per area, so each area's modules build and load on their own.
COMPILED = {
    "assay_pii_native": [
        "src/assay/pii/_patterns.py",
        "src/assay/pii/_classify.py",
        "src/assay/pii/_validate.py",
        "src/assay/pii/detector.py",
        "src/assay/pii/_starts.py",
    ],
    "assay_ledger_native": ["src/assay/ledger/_rows.py", "src/assay/ledger/_screen.py"],
}


#: Same libraries as Python's sqlite3 and hashlib modules: one SQLite and one OpenSSL per process.
ENTRY_READER = Extension(
    "assay.ledger._entry_reader",
    ["src/assay/ledger/_entry_reader.c"],
    libraries=["sqlite3", "crypto"],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
    optional=True,
)


def _ext_modules() -> list[object]:
    if os.environ.get("ASSAY_PURE_PYTHON") == "1":
        return []
    from mypyc.build import mypycify

    # Our own small mypy configuration: the project's (pydantic plugin, every package) is for linting.
    compiled = [
        extension
        for group, paths in COMPILED.items()
        for extension in mypycify(["--config-file", "mypyc.ini", *paths], opt_level="3", group_name=group)
    ]
    return [*compiled, ENTRY_READER]


setup(ext_modules=_ext_modules())
