"""Helpers for driving the CLI and a real server process in tests."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
from typer.testing import CliRunner

from assay.cli import main
from tests.servers import free_port, wait_for_port


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> CliResult:
    """Run ``assay ARGS`` in-process through the same ``main`` the console script uses."""
    runner = CliRunner()
    with runner.isolation(input=input, env=dict(env or {})) as streams:
        code = main(list(args))
        return CliResult(code, streams[0].getvalue().decode(), streams[1].getvalue().decode())


def assay_subprocess(*args: str, env: Mapping[str, str] | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "assay", *args], env=full_env, capture_output=True, text=True,
        timeout=120, check=False, **kw,  # type: ignore[call-overload]
    )


@contextmanager
def running_server(data_dir: Path, env: Mapping[str, str] | None = None, extra: tuple[str, ...] = ()) -> Iterator[str]:
    """Start ``assay serve`` as a real process and yield its base URL."""
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    log = data_dir.parent / f"serve-{port}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assay", "serve", "--data-dir", str(data_dir), "--port", str(port), *extra],
            env=full_env, stdout=sink, stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_for_port(port, timeout=60)
            except TimeoutError:
                proc.kill()
                raise AssertionError(f"server did not start:\n{log.read_text()}") from None
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def get(url: str, **kw: object) -> httpx.Response:
    return httpx.get(url, timeout=30, **kw)  # type: ignore[arg-type]


def python_source_of(module: ModuleType) -> ModuleType:
    """The Python source of a compiled module, loaded on its own whether or not an extension
    shadows it (to hold the compiled module and its source to the same results)."""
    name = module.__name__.rpartition(".")[2]
    source = Path(str(module.__file__)).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"{module.__name__.replace('.', '_')}_pure", source)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = loaded
    spec.loader.exec_module(loaded)
    return loaded
