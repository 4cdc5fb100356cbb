"""docs/scenarios.md tells the truth: running its commands prints exactly what it shows."""

from __future__ import annotations

from tests.scenarios.doc import DOC, render


def test_every_scenario_prints_what_the_doc_says() -> None:
    written = DOC.read_text()
    assert "$ postmeter" in written
    actual = render(written)
    if actual != written:
        diff = [
            f"doc:    {a}\nactual: {b}"
            for a, b in zip(written.splitlines(), actual.splitlines(), strict=False)
            if a != b
        ]
        raise AssertionError(
            "docs/scenarios.md is out of date (python -m tests.scenarios.doc rewrites it):\n"
            + "\n".join(diff[:10])
        )
