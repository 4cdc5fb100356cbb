"""What a group of API requests must know before it books, read in one transaction.

The HTTP server books concurrent charges together (api/committer.py). Before a group books, one
read answers for all of it: which of its API keys were revoked (the server remembers principals,
so this read is what refuses a revoked key at once), which answers are already kept under its
Idempotency-Keys (refusals are kept only there), and the lineage of the accounts its account
keys name (their tenancy check). The read may share the transaction that keeps the answers of
the group before it: one commit less for each group.
"""

from __future__ import annotations

from dataclasses import dataclass

from postmeter.domain.errors import NotFound
from postmeter.service import keys, lookup, replies
from postmeter.service.context import Context
from postmeter.service.replies import Place, Reply
from postmeter.store.uow import Tx


@dataclass(frozen=True, slots=True)
class Questions:
    """What a group asks about: its keys, its places (scope, Idempotency-Key), and the accounts
    named by account keys."""

    prefixes: set[str]
    places: list[Place]
    refs: set[str]


@dataclass(frozen=True, slots=True)
class Admission:
    revoked: set[str]  # key prefixes
    replies: dict[Place, Reply]  # answers kept under (scope, Idempotency-Key)
    lineages: dict[str, list[int] | None]  # account ref -> its id and its ancestors'; None: none


def admit(ctx: Context, questions: Questions) -> Admission:
    """Answer ``questions`` in one read transaction."""
    with ctx.store.read() as tx:
        return _answers(tx, questions)


def _answers(tx: Tx, questions: Questions) -> Admission:
    return Admission(
        revoked=keys.revoked_among(tx, questions.prefixes),
        replies=replies.kept_among(tx, questions.places),
        lineages={ref: _lineage(tx, ref) for ref in questions.refs},
    )


def _lineage(tx: Tx, ref: str) -> list[int] | None:
    try:
        row = lookup.account(tx, ref)
    except NotFound:
        return None
    return [row.id, *(parent.id for parent in tx.ancestors(row))]
