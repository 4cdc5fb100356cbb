"""docs/api.md tells the truth: the seed stories' requests get exactly the answers it shows."""

from __future__ import annotations

import re

from tests.scenarios import doc as cli_doc
from tests.scenarios.http_doc import DOC, render
from tests.support.databases import Databases

SECTION = "## The seed stories over HTTP\n"


def test_every_http_story_answers_what_the_doc_says(databases: Databases, backend: str) -> None:
    """On either database: ids and answers do not depend on which one keeps the books."""
    written = DOC.read_text()
    assert "```http" in written
    actual = render(written, lambda: databases.fresh(backend))
    if actual != written:
        diff = [
            f"doc:    {a}\nactual: {b}"
            for a, b in zip(written.splitlines(), actual.splitlines(), strict=False)
            if a != b
        ]
        raise AssertionError(
            "docs/api.md is out of date (python -m tests.scenarios.http_doc rewrites it):\n"
            + "\n".join(diff[:10])
        )


def test_each_story_of_scenarios_md_is_told_over_http() -> None:
    section = DOC.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    told = re.findall(r"(?m)^### (.+)$", section)
    stories = re.findall(r"(?m)^## (.+)$", cli_doc.DOC.read_text())
    assert told == stories
