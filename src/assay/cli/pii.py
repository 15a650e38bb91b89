"""``assay pii scan|redact|types``: detection and redaction over files or standard input.

Input is read line by line and output written as it goes, so memory stays
constant however large the input is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import orjson
import typer
from rich.table import Table

from assay.cli._common import JsonOption, console
from assay.errors import UsageError

if TYPE_CHECKING:
    from assay.pii import Detector, NerBackend

app = typer.Typer(help="Find and redact personal data and secrets.", no_args_is_help=True)

FileArgument = Annotated[
    str | None,
    typer.Argument(help="Text file to read; standard input when omitted or `-`.", show_default=False),
]
JsonlOption = Annotated[
    bool, typer.Option("--jsonl", help='Each input line is a JSON object with a "text" field.')
]
TypesOption = Annotated[
    str | None,
    typer.Option("--types", help="Comma-separated entity types (default: all covered types).", show_default=False),
]
MinScoreOption = Annotated[float, typer.Option("--min-score", help="Ignore detections scored lower.", min=0.0, max=1.0)]


@contextmanager
def _open_input(file: str | None) -> Iterator[TextIO]:
    if file is None or file == "-":
        yield sys.stdin
        return
    path = Path(file)
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}", hint="Pass a readable text file, or `-` for standard input.") from exc
    with handle:
        yield handle


def _records(stream: TextIO, *, jsonl: bool) -> Iterator[tuple[int, str, dict[str, object] | None]]:
    """(0-based line number, text, the JSON object when --jsonl) for each input line."""
    for number, raw in enumerate(stream):
        line = raw.removesuffix("\n").removesuffix("\r")
        if not jsonl:
            yield number, line, None
            continue
        if not line.strip():
            continue
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"line {number}: not valid JSON ({exc})", hint='With --jsonl every line is an object like {"text": "..."}.') from exc
        if not isinstance(document, dict) or not isinstance(document.get("text"), str):
            raise UsageError(f'line {number}: no string "text" field', hint='With --jsonl every line is an object like {"text": "..."}.')
        yield number, document["text"], document


def _ner_backend() -> NerBackend | None:
    """The named-entity backend ASSAY_PII_NER names (PERSON, LOCATION), if any."""
    from assay.config import load_settings
    from assay.pii import load_ner_backend

    spec = load_settings().pii_ner
    return load_ner_backend(spec) if spec else None


def _detector(types: str | None) -> Detector:
    from assay.pii import Detector

    backend = _ner_backend()
    if types is None:
        return Detector(ner_backend=backend)
    return Detector(enabled_types=[t.strip().upper() for t in types.split(",") if t.strip()], ner_backend=backend)


def _decode_errors(file: str | None) -> UsageError:
    return UsageError(f"{file or 'standard input'} is not UTF-8 text", hint="Convert the input to UTF-8 first.")


@app.command()
def scan(
    file: FileArgument = None, jsonl: JsonlOption = False, types: TypesOption = None, min_score: MinScoreOption = 0.0
) -> None:
    """Print one JSON object per detection: line, start, end (string offsets in that line), type, score."""
    detector = _detector(types)
    write = sys.stdout.write
    try:
        with _open_input(file) as stream:
            for number, text, _ in _records(stream, jsonl=jsonl):
                for span in detector.detect(text):
                    if span.score >= min_score:
                        record = {"line": number, "start": span.start, "end": span.end, "type": span.type, "score": round(span.score, 2)}
                        write(orjson.dumps(record).decode() + "\n")
    except UnicodeDecodeError as exc:
        raise _decode_errors(file) from exc
    finally:
        sys.stdout.flush()


@app.command()
def redact(
    file: FileArgument = None, jsonl: JsonlOption = False, types: TypesOption = None, min_score: MinScoreOption = 0.5
) -> None:
    """Print the input with detections masked (the default inbound policy; --types masks those types)."""
    from assay.pii import Action, RedactionPolicy
    from assay.pii import redact as redact_text

    detector = _detector(types)
    if types is None:
        policy = RedactionPolicy.default_inbound()
        policy = RedactionPolicy(actions=policy.actions, min_score=min_score)
    else:
        policy = RedactionPolicy(actions=dict.fromkeys(detector.enabled_types, Action.MASK), min_score=min_score)
    write = sys.stdout.write
    try:
        with _open_input(file) as stream:
            for _, text, document in _records(stream, jsonl=jsonl):
                redacted = redact_text(text, policy, detector).text
                if document is None:
                    write(redacted + "\n")
                else:
                    write(orjson.dumps({**document, "text": redacted}).decode() + "\n")
    except UnicodeDecodeError as exc:
        raise _decode_errors(file) from exc
    finally:
        sys.stdout.flush()


@app.command("types")
def list_types(as_json: JsonOption = False) -> None:
    """List the entity types and whether this installation covers each."""
    from assay.pii import entity_types

    detector = _detector(None)
    rows = [
        {"type": t.name, "covered": t.name in detector.covered_types, "description": t.description}
        for t in entity_types()
    ]
    if as_json:
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
        sys.stdout.flush()
        return
    table = Table(title="PII entity types")
    for column in ("type", "covered", "description"):
        table.add_column(column)
    for row in rows:
        covered = "[green]yes[/]" if row["covered"] else "[yellow]no (needs a named-entity backend: ASSAY_PII_NER)[/]"
        table.add_row(str(row["type"]), covered, str(row["description"]))
    console.print(table)
