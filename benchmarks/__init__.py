"""Benchmarks: each module measures one area against a baseline taken in the same run.

Every module exposes ``run(*, quick: bool) -> dict[str, object]``. The figures
are ratios against the baseline (raw hashlib, raw AES-GCM, the direct upstream,
the peer tool), never a bare time used as pass/fail.
"""
