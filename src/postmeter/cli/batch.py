"""``charge-batch FILE``: many charges in one transaction, each with its own result.

FILE holds JSON lines (``{"key": ..., "account": ..., "unit": ..., "credits": "250"}``) or CSV
(``key,account,unit,credits[,reference[,sender]]``, with or without that header); ``-`` reads
stdin. A file that cannot be read as either books nothing; an item that is refused or invalid
books nothing for that item only, and makes the command exit with code 9.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import RenderableType

import postmeter as pm
from postmeter.cli.errors import EXIT_BATCH_FAILED, Failure, failure, report
from postmeter.cli.output import emit_json, show, table
from postmeter.cli.session import Session, in_credits, key_or_new, parse_amount, session
from postmeter.cli.views import charge_doc

COLUMNS = ("key", "account", "unit", "credits", "reference", "sender")
REQUIRED = ("account", "unit", "credits")


@dataclass(frozen=True, slots=True)
class Item:
    """One line of the file, as typed."""

    line: int
    key: str
    account: str
    unit: str
    credits: str
    reference: str | None
    sender: str | None


def register(app: typer.Typer) -> None:
    app.command("charge-batch")(charge_batch)


def charge_batch(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="JSON lines or CSV file; - for stdin.")],
    fmt: Annotated[
        str, typer.Option("--format", help="auto, jsonl or csv (auto: by the first line).")
    ] = "auto",
) -> None:
    """Charge every line of FILE in one transaction; print each item's result."""
    state = session(ctx)
    items = read_items(_read_text(file), fmt)
    results = run(state, items)
    failed = [(item, fail) for item, (_, fail) in zip(items, results, strict=True) if fail]
    if state.json:
        emit_json(_document(state, items, results))
    else:
        show(_table(state, items, results), _totals(items, failed))
    if failed:
        item, fail = failed[0]
        report(
            Failure(
                EXIT_BATCH_FAILED,
                "batch_failed",
                f"{len(failed)} of {len(items)} items failed; first, line {item.line}: "
                f"{fail.code}: {fail.message}",
            ),
            as_json=False,
        )
        raise typer.Exit(EXIT_BATCH_FAILED)


def run(state: Session, items: list[Item]) -> list[tuple[pm.Charge | None, Failure | None]]:
    """Check each item's unit and amount, then charge the good ones in one transaction."""
    results: list[tuple[pm.Charge | None, Failure | None]] = [(None, None)] * len(items)
    requests: list[tuple[int, pm.ChargeRequest]] = []
    for i, item in enumerate(items):
        try:
            steps = parse_amount(state.unit(item.unit), item.credits, "credits")
            requests.append(
                (
                    i,
                    pm.ChargeRequest(
                        item.key, item.account, item.unit, steps, item.reference, item.sender
                    ),
                )
            )
        except pm.PostmeterError as exc:
            results[i] = (None, failure(exc))
    if requests:
        outcomes = pm.charge_batch(state.books(), state.actor, [r for _, r in requests])
        for (i, request), outcome in zip(requests, outcomes, strict=True):
            error = outcome.error
            if isinstance(error, pm.InsufficientCredits):
                error = in_credits(error, state.unit(request.unit), request.account)
            results[i] = (outcome.charge, failure(error) if error else None)
    return results


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise pm.InvalidInput(f"cannot read {path}: {exc}", file=path) from exc


def read_items(text: str, fmt: str = "auto") -> list[Item]:
    """Parse the whole file first: a malformed file raises before anything is booked."""
    if fmt not in ("auto", "jsonl", "csv"):
        raise pm.InvalidInput(f"--format must be auto, jsonl or csv, not {fmt!r}")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if fmt == "jsonl" or (fmt == "auto" and first.startswith("{")):
        return _json_lines(text)
    return _csv(text)


def _json_lines(text: str) -> list[Item]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            # Numbers stay their literal text: a float never touches an amount.
            value = json.loads(line, parse_float=str, parse_int=str)
        except json.JSONDecodeError as exc:
            raise pm.InvalidInput(f"line {number}: not JSON ({exc.msg})", line=number) from exc
        if not isinstance(value, dict):
            raise pm.InvalidInput(f"line {number}: expected a JSON object", line=number)
        items.append(_item(number, value))
    return items


def _csv(text: str) -> list[Item]:
    rows = [
        (number, row)
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if any(cell.strip() for cell in row)
    ]
    names: list[str] = list(COLUMNS)
    if rows and [c.strip().lower() for c in rows[0][1]][:4] == list(COLUMNS[:4]):
        names = [c.strip().lower() for c in rows[0][1]]
        rows = rows[1:]
    items = []
    for number, row in rows:
        if not 4 <= len(row) <= len(names):
            raise pm.InvalidInput(
                f"line {number}: expected {','.join(COLUMNS[:4])}[,reference[,sender]], "
                f"got {len(row)} columns",
                line=number,
            )
        items.append(_item(number, dict(zip(names, (c.strip() for c in row), strict=False))))
    return items


def _item(number: int, value: dict[str, Any]) -> Item:
    unknown = set(value) - set(COLUMNS)
    if unknown:
        raise pm.InvalidInput(f"line {number}: unknown field {sorted(unknown)[0]!r}", line=number)
    for name in COLUMNS:
        given = value.get(name)
        if given is not None and not isinstance(given, str):
            raise pm.InvalidInput(f"line {number}: {name} must be a string", line=number)
    missing = [name for name in REQUIRED if not value.get(name)]
    if missing:
        raise pm.InvalidInput(f"line {number}: {missing[0]} is missing", line=number)
    return Item(
        line=number,
        key=key_or_new(value.get("key") or None),
        account=value["account"],
        unit=value["unit"],
        credits=value["credits"],
        reference=value.get("reference") or None,
        sender=value.get("sender") or None,
    )


def _document(
    state: Session, items: list[Item], results: list[tuple[pm.Charge | None, Failure | None]]
) -> dict[str, Any]:
    docs = []
    for item, (done, fail) in zip(items, results, strict=True):
        docs.append(
            {
                "line": item.line,
                "key": item.key,
                "account": item.account,
                "unit": item.unit,
                "ok": fail is None,
                "charge": charge_doc(done, state.unit(item.unit)) if done else None,
                "error": fail.as_json()["error"] if fail else None,
            }
        )
    failed = sum(1 for _, fail in results if fail)
    return {"items": docs, "charged": len(items) - failed, "failed": failed}


def _table(
    state: Session, items: list[Item], results: list[tuple[pm.Charge | None, Failure | None]]
) -> RenderableType:
    rows = []
    for item, (done, fail) in zip(items, results, strict=True):
        if done is not None:
            unit = state.unit(item.unit)
            result = "replayed" if done.replayed else "charged"
            detail = f"balance {unit.format(done.balance)}"
            if done.overage:
                detail += f", overage {unit.format(done.overage)}"
        else:
            assert fail is not None
            result, detail = fail.code, fail.message
        rows.append((item.line, item.key, item.account, item.unit, item.credits, result, detail))
    return table(None, ["line", "key", "account", "unit", "credits", "result", "detail"], rows)


def _totals(items: list[Item], failed: list[tuple[Item, Failure]]) -> str:
    return f"{len(items) - len(failed)} charged, {len(failed)} failed"
