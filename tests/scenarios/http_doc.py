"""The seed stories of docs/api.md as something to run: send its requests, give its text back.

Each ``###`` section with ``http`` blocks is one story, on a fresh database, through the real app
(``create_app`` under a ``TestClient``) with an operator key minted first. An ``http`` block holds
one or more exchanges; an exchange is written as HTTP is:

- optional comment lines ``# ...``; ``# the clock reads <instant>`` (the story's start) and
  ``# the clock moves to <instant>`` set the app's ``FixedClock`` before the request;
- the request line ``METHOD /path?query``, its headers ``Name: value`` (``$KEY`` in a header
  stands for the operator key, so the doc never holds a secret), a blank line and the JSON body,
  sent exactly as written;
- the answer: ``HTTP/1.1 <status> <reason>``, the headers worth reading (``Content-Type`` when it
  is not plain JSON, ``Idempotent-Replayed`` on a replay), a blank line and the JSON body,
  pretty-printed in the order the API gives its keys; ``key:$KEY_PREFIX`` stands for the
  operator key's visible prefix, made anew on every run.

Everything from the status line to the next exchange is replaced by the real answer. Run
``python -m tests.scenarios.http_doc`` to write the answers into docs/api.md; the test checks the
file says exactly what the app answers.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from pathlib import Path

from fastapi.testclient import TestClient

import postmeter as pm
from postmeter.api.app import create_app
from postmeter.api.idempotency import REPLAYED_HEADER
from postmeter.service import keys

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
KEY_VARIABLE = "$KEY"
# Who did something, in an answer (a transfer's ``actor``...), is ``key:<prefix>`` of the
# operator key: its prefix is new on every run, so the doc writes it as this.
PREFIX_VARIABLE = "$KEY_PREFIX"
SHOWN_HEADERS = (REPLAYED_HEADER,)  # shown whenever the app sends them (and Content-Type, below)

_FENCE = re.compile(r"^```http\n(.*?)^```\n", re.S | re.M)
_HEADING = re.compile(r"(?m)^(?=##+ )")
_CLOCK = re.compile(r"# the clock (reads|moves to) (\S+)")
_REQUEST = re.compile(r"(GET|POST|PUT|PATCH|DELETE) (/\S*)")
_HEADER = re.compile(r"([A-Za-z][A-Za-z0-9-]*): (.*)")

FreshUrl = Callable[[], str]


@dataclass
class Exchange:
    """One request as the doc writes it (its answer is not kept: it is rendered anew)."""

    comments: list[str]
    method: str
    path: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: list[str] = field(default_factory=list)

    def request_text(self) -> list[str]:
        lines = [*self.comments, f"{self.method} {self.path}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.body:
            lines += ["", *self.body]
        return lines


def parse_block(block: str) -> list[Exchange]:
    """The exchanges of one ``http`` block, answers left out."""
    exchanges: list[Exchange] = []
    comments: list[str] = []
    current: Exchange | None = None
    mode = "headers"  # then "body", then "answer" (skipped: it is rendered anew)
    for line in block.splitlines():
        request = _REQUEST.fullmatch(line)
        if line.startswith("#"):
            current = None
            comments.append(line)
        elif request:
            current = Exchange(comments, request.group(1), request.group(2))
            exchanges.append(current)
            comments, mode = [], "headers"
        elif current is None:
            if line.strip():
                raise ValueError(f"expected a comment or a request line, not: {line!r}")
        elif mode == "answer":
            continue
        elif line.startswith("HTTP/"):
            mode = "answer"
        elif mode == "headers":
            if not line:
                mode = "body"
                continue
            header = _HEADER.fullmatch(line)
            if header is None:
                raise ValueError(f"{current.method} {current.path}: not a header: {line!r}")
            current.headers.append((header.group(1), header.group(2)))
        else:
            current.body.append(line)
    if comments:
        raise ValueError(f"comments after the last request of a block: {comments}")
    for exchange in exchanges:
        while exchange.body and not exchange.body[-1].strip():
            exchange.body.pop()
        if exchange.body:
            json.loads("\n".join(exchange.body))  # a body is JSON; say so here if it is not
    return exchanges


def render(text: str, fresh_url: FreshUrl) -> str:
    """``text`` with every ``http`` block's answers replaced by what the app answers."""
    sections = _HEADING.split(text)
    return "".join(_render_section(section, fresh_url) for section in sections)


def _render_section(section: str, fresh_url: FreshUrl) -> str:
    if not _FENCE.search(section):
        return section
    if not section.startswith("### "):
        raise ValueError(f"http blocks belong to a ### story: {section.splitlines()[0]!r}")
    story = Story(fresh_url)
    try:
        rendered = _FENCE.sub(
            lambda m: "```http\n" + story.run_block(m.group(1)) + "```\n", section
        )
    finally:
        story.close()
    if story.secret is not None and story.secret in rendered:
        raise AssertionError("the operator key's secret would be written into the doc")
    return rendered


class Story:
    """One story's app: a fresh database, a fixed clock, an operator key, a test client."""

    def __init__(self, fresh_url: FreshUrl) -> None:
        self._fresh_url = fresh_url
        self.clock: pm.FixedClock | None = None
        self.secret: str | None = None
        self._client: TestClient | None = None
        self._open = ExitStack()

    def run_block(self, block: str) -> str:
        out: list[str] = []
        for exchange in parse_block(block):
            if out:
                out.append("")
            out += exchange.request_text()
            out += ["", *self._send(exchange)]
        return "\n".join(out) + "\n"

    def close(self) -> None:
        self._open.close()

    def _send(self, exchange: Exchange) -> list[str]:
        for comment in exchange.comments:
            if clock := _CLOCK.fullmatch(comment):
                self._set_clock(clock.group(1), _instant(clock.group(2)))
        client = self._started(exchange)
        headers = {
            name: value.replace(KEY_VARIABLE, self._secret()) for name, value in exchange.headers
        }
        content = "\n".join(exchange.body).encode() if exchange.body else None
        answer = client.request(exchange.method, exchange.path, content=content, headers=headers)
        lines = [f"HTTP/1.1 {answer.status_code} {HTTPStatus(answer.status_code).phrase}"]
        media = answer.headers.get("content-type", "")
        if media and media != "application/json":
            lines.append(f"Content-Type: {media}")
        lines += [
            f"{name}: {answer.headers[name]}" for name in SHOWN_HEADERS if name in answer.headers
        ]
        if answer.content:
            text = json.dumps(answer.json(), indent=2, ensure_ascii=False)
            lines += ["", *self._unprefixed(text).splitlines()]
        return lines

    def _unprefixed(self, text: str) -> str:
        prefix = self._secret().split("_")[1]
        return text.replace(f"key:{prefix}", f"key:{PREFIX_VARIABLE}")

    def _set_clock(self, verb: str, when: datetime) -> None:
        if (verb == "reads") != (self.clock is None):
            raise ValueError(f"'# the clock reads' starts a story, then it moves to: {verb} {when}")
        if self.clock is None:
            self.clock = pm.FixedClock(when)
            return
        if when < self.clock.now():
            raise ValueError(f"the clock moves forward only: {when} is before {self.clock.now()}")
        self.clock.set(when)

    def _started(self, exchange: Exchange) -> TestClient:
        if self._client is None:
            if self.clock is None:
                raise ValueError(
                    f"{exchange.method} {exchange.path}: a story starts with '# the clock reads'"
                )
            ctx = pm.connect(self._fresh_url(), clock=self.clock)
            self._open.callback(ctx.store.dispose)
            made = keys.create_key(
                ctx, pm.OPERATOR, "story-operator", "story operator", role="operator"
            )
            self.secret = made.secret
            app = create_app(ctx, tick_interval_s=None)
            self._client = self._open.enter_context(TestClient(app))
        return self._client

    def _secret(self) -> str:
        assert self.secret is not None
        return self.secret


def _instant(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError(f"a clock instant needs a zone: {text}")
    return when


@contextmanager
def _fresh_sqlite() -> Iterator[FreshUrl]:
    from tests.support.databases import Databases

    databases = Databases()
    try:
        yield lambda: databases.fresh("sqlite")
    finally:
        databases.close()


if __name__ == "__main__":
    with _fresh_sqlite() as fresh:
        DOC.write_text(render(DOC.read_text(), fresh))
    sys.stdout.write(f"rendered {DOC}\n")
