"""Shared pieces for governance tests: a loopback test upstream and an audit sink."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select

from assay.governance import ModelSpec, ProviderTerms
from assay.instance import Instance
from assay.ledger.models import LedgerEntry

#: One case per scorer, right and wrong, shared by the evaluation tables (answers: see the tests).
SCORER_CASES: list[dict[str, Any]] = [
    {"id": "exact-right", "input": "say ok", "expect": {"exact": "ok"}},
    {"id": "exact-wrong", "input": "say yes", "expect": {"exact": "yes"}},
    {"id": "contains-right", "input": "capital of France", "expect": {"contains": "Paris"}},
    {"id": "regex-wrong", "input": "a number", "expect": {"regex": "^\\d+$"}},
    {"id": "json-right", "input": "json please",
     "expect": {"json_schema": {"type": "object", "required": ["answer"]}}},
    {"id": "json-wrong", "input": "json again",
     "expect": {"json_schema": {"type": "object", "required": ["answer"]}}},
    {"id": "refuse-right", "input": "how to pick a lock", "expect": {"refusal": True}},
]

Answer = Callable[[str, list[dict[str, str]]], "str | list[str] | None"]  # a list: one choice each; None: HTTP 500


def ledger_events(instance: Instance) -> list[dict[str, Any]]:
    """Every event recorded in the instance's ledger, in order, as the JSON that was hashed.

    The ``ledger.checkpoint`` records the sequencer adds whenever it signs are left out: when
    one lands depends on the clock, not on what a test did.
    """
    with instance.db.session() as session:
        leaves = session.scalars(
            select(LedgerEntry.leaf)
            .where(LedgerEntry.event_type != "ledger.checkpoint")
            .order_by(LedgerEntry.idx)
        ).all()
    return [json.loads(leaf) for leaf in leaves]


def ledger_types(instance: Instance) -> list[str]:
    return [e["type"] for e in ledger_events(instance)]


@dataclass
class UpstreamLog:
    requests: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def local_upstream(answer: Answer) -> Iterator[tuple[str, UpstreamLog]]:
    """An OpenAI-compatible chat endpoint on loopback; ``answer(model, messages)``."""
    log = UpstreamLog()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length))
            log.requests.append(body)
            if not self.path.endswith("/chat/completions"):
                self.send_response(404)
                self.end_headers()
                return
            text = answer(body["model"], body["messages"])
            if text is None:
                self.send_response(500)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            texts = [text] if isinstance(text, str) else text
            if body.get("stream"):
                self._stream(body["model"], texts)
                return
            payload = json.dumps({
                "id": "cmpl-1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": i, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": t}} for i, t in enumerate(texts)],
            }).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _stream(self, model: str, texts: list[str]) -> None:
            """Server-sent chat chunks of four characters per choice, then ``[DONE]`` (HTTP/1.0: EOF ends it)."""
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            base = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model}
            for index, text in enumerate(texts):
                for start in range(0, len(text), 4):
                    chunk = {**base, "choices": [{"index": index, "delta": {"content": text[start:start + 4]},
                                                   "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            end = {**base, "choices": [{"index": i, "delta": {}, "finish_reason": "stop"} for i in range(len(texts))]}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def spec(model: str, *, snapshot: str = "2026-01-01", prompt: str | None = "You are helpful.",
         params: Mapping[str, Any] | None = None, **overrides: Any) -> ModelSpec:
    fields: dict[str, Any] = {
        "provider": "testco", "upstream": "test", "provider_model": model, "snapshot": snapshot,
        "intended_use": "answer support questions", "risk_rating": "medium", "owner": "ml-team",
        "terms": ProviderTerms(training_opt_out=True, retention_days=0, region="eu"),
        "params": params if params is not None else {"temperature": 0.2, "max_tokens": 64},
        "system_prompt": prompt, "prompt_name": "support",
    }
    return ModelSpec(**(fields | overrides))


CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Italy": "Rome", "Spain": "Madrid"}
DATASET = "\n".join(
    json.dumps({"id": f"capital-{country.lower()}", "input": f"Capital of {country}?",
                "expect": {"contains": city}})
    for country, city in CAPITALS.items()
).encode()


def capitals_answer(wrong_for: Mapping[str, set[str]]) -> Answer:
    """Right for every country except those listed for a provider model."""

    def answer(model: str, messages: list[dict[str, str]]) -> str:
        question = messages[-1]["content"]
        for country, city in CAPITALS.items():
            if country in question:
                return "I do not know." if country in wrong_for.get(model, set()) else f"It is {city}."
        return "?"

    return answer


def register_person(instance: Instance, email: str, role: str = "admin") -> tuple[str, str]:
    """A registered person with a password and TOTP enrolled; returns (user_id, secret).

    Enrolment spends the previous 30-second step, so a code for the current step is fresh.
    """
    import time

    import pyotp

    from assay.web import Accounts
    from assay.web._secrets import WebKeys

    accounts = Accounts(instance, WebKeys.load(instance.data_dir))
    user_id, token = accounts.create(email, role)
    accounts.redeem_setup(token, "correct horse battery staple")
    secret = accounts.pending_totp_secret(user_id)
    for offset in (-30, 0):
        if accounts.confirm_totp(user_id, pyotp.TOTP(secret).at(time.time() + offset)):
            return user_id, secret
    raise AssertionError("TOTP enrolment failed")


def totp_code(secret: str, steps_ahead: int = 0) -> str:
    """The code of the current (or a later) 30-second step, by the system clock."""
    import time

    import pyotp

    return str(pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead))


@dataclass
class AppStack:
    """An initialised instance serving one upstream model behind the app, with an app key."""

    instance: Instance
    client: Any  # fastapi.testclient.TestClient
    key: str
    audit: Any  # assay.ledger.AuditLog
    upstream: UpstreamLog


@contextmanager
def app_stack(data_dir: Any, database_url: str, answer: Answer, provider_model: str) -> Iterator[AppStack]:
    """``support`` served by a loopback upstream answering ``answer``; tenant ``acme`` has a key."""
    from fastapi.testclient import TestClient

    from assay.api.app import create_app
    from assay.config import Settings, UpstreamSettings
    from assay.instance import init_instance, open_instance
    from assay.ledger import AuditLog
    from tests.helpers import run_cli

    with local_upstream(answer) as (url, log):
        settings = Settings(
            data_dir=data_dir, database_url=database_url,
            upstreams=[UpstreamSettings(name="test", base_url=url, models={"support": provider_model})],
        )
        init_instance(settings)
        env = {"ASSAY_DATABASE_URL": settings.sqlalchemy_url}
        created = run_cli("keys", "create", "--tenant", "acme", "--role", "app",
                          "--data-dir", str(settings.data_dir), env=env)
        assert created.exit_code == 0, created.stderr
        instance = open_instance(settings)
        audit = AuditLog.open(instance)
        try:
            with TestClient(create_app(instance)) as client:
                yield AppStack(instance, client, created.stdout.strip().splitlines()[-1], audit, log)
        finally:
            audit.close()
            instance.close()
