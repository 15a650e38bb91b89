"""The gateway redacts PERSON and LOCATION when ASSAY_PII_NER names a backend (a real spaCy
pipeline on disk), in front of a recording upstream, through the official openai client."""

from __future__ import annotations

import json
from pathlib import Path

import openai
from tests.gateway_helpers import init_data_dir, recording_upstream
from tests.helpers import running_server
from tests.ner_support import build_pipeline

PROMPT = "Jane Doe flew from Paris; mail jane@example.com."


def test_named_entities_are_redacted_before_the_upstream(tmp_path: Path) -> None:
    pipeline = build_pipeline(tmp_path / "pipeline")
    data = init_data_dir(tmp_path, ASSAY_PII_NER=f"spacy:{pipeline}")
    key = data.create_key("acme")
    inbound = {"PERSON": "mask", "LOCATION": "mask", "EMAIL_ADDRESS": "mask"}
    data.cli("policy", "set", "--tenant", "acme", "--field", f"inbound={json.dumps(inbound)}", "--loosen")
    with recording_upstream(tmp_path) as upstream, running_server(
        data.path, env=data.env, extra=("--upstream", upstream.url)
    ) as base:
        with openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0) as client:
            client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": PROMPT}]
            )
        sent = upstream.received_text()
    assert "[PERSON] flew from [LOCATION]; mail [EMAIL_ADDRESS]." in sent
    assert "Jane Doe" not in sent and "Paris" not in sent
