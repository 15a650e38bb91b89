"""Presidio's half of the PII benchmark; runs inside ``.venv-peers`` (``make bench-peers``).

Presidio is set up with its predefined pattern recognizers over a blank spaCy
pipeline (``spacy.blank("en")``), so no model is downloaded and nothing but
patterns runs. tldextract (used by its e-mail recognizer) is pointed at its
bundled suffix list so nothing is fetched either.

Usage: ``python presidio_peer.py DATASET.jsonl [LIMIT]``; prints one JSON
document: predictions per sample, throughput, versions.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version

ENTITIES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", "DATE_TIME"]
# Presidio has no date-of-birth type: its DATE_TIME detections are scored as DATE_OF_BIRTH.
RENAME = {"DATE_TIME": "DATE_OF_BIRTH"}


def _offline_tldextract() -> None:
    import tldextract
    import tldextract.tldextract as module

    module.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def build_analyzer():  # type: ignore[no-untyped-def]
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankSpacyEngine(SpacyNlpEngine):
        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    engine = BlankSpacyEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])


def main() -> None:
    _offline_tldextract()
    path = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
    with open(path, encoding="utf-8") as handle:  # noqa: PTH123
        texts = [json.loads(line)["text"] for line in handle][:limit]
    analyzer = build_analyzer()
    analyzer.analyze(text="warm up a@b.io 4111111111111111", language="en", entities=ENTITIES)
    predictions, cpu_seconds = [], []
    start, start_cpu = time.perf_counter(), time.process_time()
    for text in texts:
        before = time.process_time()
        results = analyzer.analyze(text=text, language="en", entities=ENTITIES)
        cpu_seconds.append(time.process_time() - before)
        predictions.append(
            [{"start": r.start, "end": r.end, "type": RENAME.get(r.entity_type, r.entity_type), "score": r.score} for r in results]
        )
    elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    size = sum(len(t.encode()) for t in texts)
    json.dump(
        {
            "predictions": predictions,
            "cpu_seconds": cpu_seconds,
            "mb_per_s": size / elapsed / 1e6,
            "mb_per_s_cpu": size / elapsed_cpu / 1e6,
            "seconds": elapsed,
            "presidio_version": version("presidio-analyzer"),
            "spacy_version": version("spacy"),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
