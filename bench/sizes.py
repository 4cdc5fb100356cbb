"""How much each benchmark does: the full run (``make bench``) and the quick smoke run."""

from __future__ import annotations

from dataclasses import dataclass

BATCH_SIZE = 1_000  # charges per charge_batch call: the size the targets are stated for
ENTRIES_PER_LOT = 100  # seeded history: one grant entry and 99 one-credit charges per lot


@dataclass(frozen=True, slots=True)
class Sizes:
    accounts: int  # funded accounts charged in rotation
    singles_per_round: int  # one-transaction operations per round, per measured series
    rounds: int  # rounds of single charges; the median is reported
    warmup: int  # operations per series before the first round, not measured
    batches_per_round: int
    batch_rounds: int
    batch_accounts: int  # accounts one mixed batch is spread over
    history_entries: int  # journal entries seeded into the "history" database
    history_lots_per_account: int  # exhausted lots (with their entries) of each charged account
    http_warmup_s: float  # charges over HTTP before the measured window, not measured
    http_seconds: int  # the measured window of charges over HTTP
    http_healthz_seconds: int  # the measured window of GET /healthz (the HTTP stack alone)

    def __post_init__(self) -> None:
        own = self.accounts * self.history_lots_per_account * ENTRIES_PER_LOT
        assert own < self.history_entries, "the charged accounts' history must leave room"
        assert (self.history_entries - own) % ENTRIES_PER_LOT == 0, "history is whole lots"
        assert self.batch_accounts <= self.accounts


FULL = Sizes(
    accounts=50,
    singles_per_round=1_000,
    rounds=9,
    warmup=300,
    batches_per_round=10,
    batch_rounds=3,
    batch_accounts=10,
    history_entries=1_000_000,
    history_lots_per_account=10,
    http_warmup_s=3.0,
    http_seconds=15,
    http_healthz_seconds=5,
)

QUICK = Sizes(
    accounts=10,
    singles_per_round=100,
    rounds=3,
    warmup=20,
    batches_per_round=2,
    batch_rounds=1,
    batch_accounts=5,
    history_entries=20_000,
    history_lots_per_account=2,
    http_warmup_s=0.5,
    http_seconds=2,
    http_healthz_seconds=1,
)
