"""Session fixtures: database URLs for both engines, data directories, servers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from assay.config import Settings
from assay.instance import Instance, init_instance, open_instance
from tests.servers import IN_CI, PostgresServer, RedisServer, start_postgres, start_redis

pytest_plugins = ["tests.crypto_support"]

# In CI every property test tries the same examples on every run (the seed is a hash of the
# test), so a rare input cannot turn one run red and the next green; a failure there fails every
# time until it is fixed. Developers' runs keep drawing new examples, and what they find is kept
# as a table row.
settings.register_profile("ci", derandomize=True)
# `make test-explore` keeps the search going: new random examples, many more of them.
settings.register_profile("explore", max_examples=2000, derandomize=False, deadline=None)
if IN_CI:
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield from start_postgres()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from start_redis()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's AWS server on loopback (stands in for AWS KMS); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    from tests.servers import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials so boto3 signs requests for the loopback moto server."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'assay.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def instance(settings: Settings) -> Iterator[Instance]:
    init_instance(settings)
    opened = open_instance(settings)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ASSAY_* variable or assay.toml from the developer's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("ASSAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
