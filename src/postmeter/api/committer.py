"""Group commit for ``POST /v1/charges``: the charges that arrive together are booked together.

One thread books, a group at a time. For each group:

1. one read (service/admission.py): the keys revoked since their principals were remembered
   (api/auth.py), the answers kept under the group's Idempotency-Keys, the lineage of the
   accounts that account keys name;
2. one ``charge_batch`` per API key (it books for one actor): one transaction, one durable
   commit, each charge with its own outcome;
3. one transaction keeping every answer for replays;

and only then the group is answered. While one group books, the next gathers: N charges that
arrive together cost three transactions instead of about 4N. (Making the next group's read in
the transaction that keeps this group's answers saved a transaction but measured slower: the
answers then waited for that read.) No charge is answered before the
commit that booked it returned, so an answer never rests on credits a crash could take back.

A charge whose Idempotency-Key is already in the group waits for the next group, which finds
the first one's answer kept and replays it, as if the two had come one after the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from postmeter.api import views
from postmeter.api.amounts import to_steps
from postmeter.api.auth import Principals, unknown_key
from postmeter.api.idempotency import replayed
from postmeter.api.problems import from_error
from postmeter.api.units import UnitCache
from postmeter.domain.errors import NotFound, PostmeterError
from postmeter.domain.units import Unit
from postmeter.service.admission import Admission, Questions, admit
from postmeter.service.charging import ChargeRequest, charge_batch
from postmeter.service.context import Actor, Context
from postmeter.service.keys import Principal
from postmeter.service.replies import Place, Reply, keep_replies

MAX_GROUP = 1_000  # charges booked together at most: beyond it, the next group takes the rest

Answer = tuple[int, str, bool]  # status, body, replayed
Outcome = tuple[int, str]  # status, body: what a charge got, before it is kept


@dataclass(frozen=True, slots=True)
class ChargeAsk:
    """The charge a request asks for, as its body says it."""

    account: str
    unit: str
    credits: int | str
    reference: str | None = None
    sender: str | None = None


class GroupFailed(Exception):
    """The group a charge was booked in failed (the database, most likely): a 500."""


@dataclass(eq=False, slots=True)
class _Waiting:
    """One charge request, from the moment it is queued until it is answered."""

    who: Principal
    key: str
    fingerprint: str
    ask: ChargeAsk
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Answer]
    request: ChargeRequest | None = None
    unit: Unit | None = None
    outcome: Outcome | None = None
    answer: Answer | None = None
    failure: BaseException | None = None

    @property
    def place(self) -> Place:
        return (self.who.actor.scope, self.key)


class Committer:
    """Books the charges of one app in groups; ``charge`` is what a request awaits."""

    def __init__(self, ctx: Context, units: UnitCache, principals: Principals) -> None:
        self._ctx = ctx
        self._units = units
        self._principals = principals
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def charge(self, who: Principal, key: str, fingerprint: str, ask: ChargeAsk) -> Answer:
        """Book ``ask`` under ``key`` (or replay its first answer); the answer once durable."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(who, key, fingerprint, ask, loop, loop.create_future())
        self._start()
        self._queue.put(waiting)
        return await waiting.future

    def close(self) -> None:
        """Answer what is queued, then stop the thread (a later charge starts it again)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="postmeter-committer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        intake = _Intake(self._queue)
        while group := intake.next_group():
            self._book(group)

    def _book(self, group: list[_Waiting]) -> None:
        try:
            fresh = self._screen(group, admit(self._ctx, _questions(group)))
            by_actor: dict[Actor, list[_Waiting]] = defaultdict(list)
            for w in fresh:
                if w.request is not None:
                    by_actor[w.who.actor].append(w)
            for actor, charges in by_actor.items():
                self._charge(actor, charges)
            _settle_kept(fresh, keep_replies(self._ctx, _to_keep(fresh)))
        except Exception as exc:  # the database failed the group: each charge left gets a 500
            for w in group:
                if w.answer is None and w.failure is None:
                    w.failure = exc
        finally:
            _answer(group)

    def _screen(self, group: Sequence[_Waiting], seen: Admission) -> list[_Waiting]:
        """Answer the revoked keys and the replays; returns the rest, each with its request
        (or the refusal it gets before any booking)."""
        fresh: list[_Waiting] = []
        for w in group:
            if w.who.prefix in seen.revoked:
                self._principals.forget(w.who.prefix)
                w.answer = (*self._refusal(unknown_key()), False)
            elif (prior := seen.replies.get(w.place)) is not None:
                w.answer = replayed(prior, w.fingerprint, w.key)
            else:
                try:
                    w.request, w.unit = self._request(w, seen)
                except PostmeterError as exc:
                    w.outcome = self._refusal(exc)
                fresh.append(w)
        return fresh

    def _request(self, w: _Waiting, seen: Admission) -> tuple[ChargeRequest, Unit]:
        """The service's request for ``w``; first the checks the route made before charging."""
        ask = w.ask
        if not w.who.is_operator:
            lineage = seen.lineages.get(ask.account)
            if lineage is None or w.who.account_id not in lineage:
                raise NotFound(f"no account {ask.account!r}", account=ask.account)
        unit = self._units.get(ask.unit)
        steps = to_steps(ask.credits, unit)
        request = ChargeRequest(
            key=w.key,
            account=ask.account,
            unit=ask.unit,
            credits=steps,
            reference=ask.reference,
            sender=ask.sender,
        )
        return request, unit

    def _charge(self, actor: Actor, charges: list[_Waiting]) -> None:
        # Every group locks its accounts' balance rows in the same order: two groups of two
        # processes then queue on each other instead of deadlocking.
        charges.sort(key=lambda w: (w.ask.account, w.ask.unit))
        try:
            outcomes = charge_batch(self._ctx, actor, [w.request for w in charges if w.request])
        except Exception as exc:
            if len(charges) == 1:
                self._failed(charges[0], exc)
                return
            # One charge the batch cannot take must not fail the others: each books alone.
            for w in charges:
                self._charge(actor, [w])
            return
        for w, outcome in zip(charges, outcomes, strict=True):
            if outcome.charge is not None:
                assert w.unit is not None
                w.outcome = (201, json.dumps(views.charge(outcome.charge, w.unit)))
            else:
                assert outcome.error is not None
                w.outcome = self._refusal(outcome.error)

    def _failed(self, w: _Waiting, exc: Exception) -> None:
        if isinstance(exc, PostmeterError):
            w.outcome = self._refusal(exc)
        else:
            w.failure = exc

    def _refusal(self, exc: PostmeterError) -> Outcome:
        status, body = from_error(exc, lambda code: self._units.get(code).scale)
        return status, json.dumps(body)


class _Intake:
    """The charges one committer thread has taken from the queue and not booked yet."""

    def __init__(self, source: queue.SimpleQueue[_Waiting | None]) -> None:
        self._source = source
        self._later: list[_Waiting] = []
        self._stopped = False  # the queue said stop: what it held before is all there is

    def next_group(self) -> list[_Waiting]:
        """The next group: the charges left over, then all that is queued (waiting for one when
        there is none; none once stopped). A charge whose key is in the group waits for the next.
        """
        waiting = self._later
        if not waiting and not self._stopped:
            self._take(self._source.get())
        while not self._stopped and len(waiting) < MAX_GROUP:
            try:
                self._take(self._source.get_nowait())
            except queue.Empty:
                break
        group: list[_Waiting] = []
        self._later = []
        places: set[Place] = set()
        for w in waiting:
            if w.place in places or len(group) == MAX_GROUP:
                self._later.append(w)
            else:
                places.add(w.place)
                group.append(w)
        return group

    def _take(self, item: _Waiting | None) -> None:
        if item is None:
            self._stopped = True
        else:
            self._later.append(item)


def _questions(group: Sequence[_Waiting]) -> Questions:
    return Questions(
        prefixes={w.who.prefix for w in group},
        places=[w.place for w in group],
        refs={w.ask.account for w in group if not w.who.is_operator},
    )


def _to_keep(fresh: Sequence[_Waiting]) -> list[tuple[Place, Reply]]:
    """Every answer, kept for replays; a server error is not kept: it may be retried."""
    return [
        (w.place, Reply(w.fingerprint, *w.outcome))
        for w in fresh
        if w.outcome is not None and w.outcome[0] < 500
    ]


def _settle_kept(fresh: Sequence[_Waiting], firsts: dict[Place, Reply]) -> None:
    """Each charge's answer once kept; a place kept first by a racing request (another process)
    answers as that one's replay."""
    for w in fresh:
        if w.outcome is None:
            continue  # failed: w.failure says why
        prior = firsts.get(w.place)
        w.answer = replayed(prior, w.fingerprint, w.key) if prior else (*w.outcome, False)


def _answer(group: Sequence[_Waiting]) -> None:
    """Hand each answer to its request's event loop: one wake-up per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Waiting]] = defaultdict(list)
    for w in group:
        by_loop[w.loop].append(w)
    for loop, answered in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, answered)


def _settle(answered: Sequence[_Waiting]) -> None:
    for w in answered:
        if w.future.done():
            continue  # cancelled: the request went away (its charge stands, under its key)
        if w.answer is not None:
            w.future.set_result(w.answer)
        else:
            failed = GroupFailed("the group this charge was booked in failed")
            failed.__cause__ = w.failure
            w.future.set_exception(failed)
