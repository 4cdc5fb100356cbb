"""A sender's status: the owner suspends and resumes, the operator or the reputation check
blocks, and only the operator lifts a block, directly or on the owner's request."""

from __future__ import annotations

import pytest

from postmeter.domain.errors import InvalidInput, InvalidState, Refused, SenderInactive
from postmeter.domain.statuses import (
    ACTIONS,
    ACTIVE,
    APPROVE_UNBLOCK,
    BLOCK,
    BLOCKED,
    OPERATOR,
    OWNER,
    REFUSE_UNBLOCK,
    REQUEST_UNBLOCK,
    RESUME,
    ROLES,
    SUSPEND,
    SUSPENDED,
    SYSTEM,
    UNBLOCK,
    SenderStatus,
    StatusChange,
    change_status,
    check_can_send,
)

RUNNING = SenderStatus(ACTIVE)
PAUSED = SenderStatus(SUSPENDED)
STOPPED = SenderStatus(BLOCKED)
ASKED = SenderStatus(BLOCKED, unblock_requested=True)
WHY = "hard bounces at 12% over 7 days"


ALLOWED = [
    (RUNNING, SUSPEND, OWNER, PAUSED),
    (PAUSED, RESUME, OWNER, RUNNING),
    (RUNNING, SUSPEND, OPERATOR, PAUSED),  # acting for the owner
    (PAUSED, RESUME, OPERATOR, RUNNING),
    (RUNNING, BLOCK, OPERATOR, STOPPED),
    (RUNNING, BLOCK, SYSTEM, STOPPED),  # the reputation check
    (PAUSED, BLOCK, OPERATOR, STOPPED),  # a block outranks a suspension
    (PAUSED, BLOCK, SYSTEM, STOPPED),
    (STOPPED, REQUEST_UNBLOCK, OWNER, ASKED),
    (ASKED, APPROVE_UNBLOCK, OPERATOR, RUNNING),
    (ASKED, REFUSE_UNBLOCK, OPERATOR, STOPPED),  # the owner may ask again
    (STOPPED, UNBLOCK, OPERATOR, RUNNING),
    (ASKED, UNBLOCK, OPERATOR, RUNNING),  # a direct unblock answers the request too
]


@pytest.mark.parametrize(("before", "action", "role", "after"), ALLOWED)
def test_allowed_changes(before: SenderStatus, action: str, role: str, after: SenderStatus) -> None:
    change = change_status(before, action, role, by="someone", reason=WHY)
    assert change == StatusChange(action, role, "someone", WHY, before, after)


@pytest.mark.parametrize(
    ("before", "action", "role", "error", "message"),
    [
        (STOPPED, RESUME, OWNER, InvalidState, "ask the operator to unblock it"),
        (STOPPED, RESUME, OPERATOR, InvalidState, "ask the operator to unblock it"),
        (STOPPED, UNBLOCK, OWNER, Refused, "only the operator may unblock"),
        (ASKED, APPROVE_UNBLOCK, OWNER, Refused, "only the operator may approve unblock"),
        (ASKED, APPROVE_UNBLOCK, SYSTEM, Refused, "not the system"),
        (RUNNING, BLOCK, OWNER, Refused, "only the operator or system may block"),
        (STOPPED, UNBLOCK, SYSTEM, Refused, "only the operator"),
        (STOPPED, REQUEST_UNBLOCK, OPERATOR, Refused, "only the owner"),
        (RUNNING, SUSPEND, SYSTEM, Refused, "only the owner or operator may suspend"),
        (PAUSED, SUSPEND, OWNER, InvalidState, "the sender is suspended"),
        (RUNNING, RESUME, OWNER, InvalidState, "the sender is active"),
        (STOPPED, SUSPEND, OWNER, InvalidState, "blocked already"),
        (STOPPED, BLOCK, SYSTEM, InvalidState, "the sender is blocked"),
        (RUNNING, UNBLOCK, OPERATOR, InvalidState, "the sender is active"),
        (RUNNING, REQUEST_UNBLOCK, OWNER, InvalidState, "not blocked"),
        (PAUSED, REQUEST_UNBLOCK, OWNER, InvalidState, "suspended, not blocked: resume it"),
        (ASKED, REQUEST_UNBLOCK, OWNER, InvalidState, "an unblock request is pending"),
        (STOPPED, APPROVE_UNBLOCK, OPERATOR, InvalidState, "nothing was asked"),
        (STOPPED, REFUSE_UNBLOCK, OPERATOR, InvalidState, "nothing was asked"),
    ],
)
def test_refused_changes_say_why(
    before: SenderStatus, action: str, role: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        change_status(before, action, role, by="someone", reason=WHY)


@pytest.mark.parametrize(
    ("before", "action", "role"),
    [
        (RUNNING, BLOCK, OPERATOR),
        (RUNNING, BLOCK, SYSTEM),
        (ASKED, REFUSE_UNBLOCK, OPERATOR),
        (STOPPED, REQUEST_UNBLOCK, OWNER),
    ],
)
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_blocking_refusing_and_asking_need_a_reason(
    before: SenderStatus, action: str, role: str, reason: str | None
) -> None:
    with pytest.raises(InvalidInput, match="reason"):
        change_status(before, action, role, by="someone", reason=reason)


def test_other_changes_may_go_without_a_reason_but_never_without_who() -> None:
    assert change_status(RUNNING, SUSPEND, OWNER, by="ann@example.com").reason is None
    with pytest.raises(InvalidInput, match="who made the change"):
        change_status(RUNNING, SUSPEND, OWNER, by=" ")


def test_unknown_roles_actions_and_states_are_invalid() -> None:
    with pytest.raises(InvalidInput, match="role"):
        change_status(RUNNING, SUSPEND, "reseller", by="x")
    with pytest.raises(InvalidInput, match="action"):
        change_status(RUNNING, "delete", OWNER, by="x")
    with pytest.raises(InvalidInput):
        SenderStatus("paused")
    with pytest.raises(InvalidInput, match="only a blocked sender"):
        SenderStatus(ACTIVE, unblock_requested=True)


def test_the_acymailing_story_a_blocked_domain_asks_twice() -> None:
    status = change_status(RUNNING, BLOCK, SYSTEM, by="reputation", reason=WHY).after
    status = change_status(status, REQUEST_UNBLOCK, OWNER, by="ann", reason="list cleaned").after
    status = change_status(status, REFUSE_UNBLOCK, OPERATOR, by="ops", reason="still 9%").after
    assert status == STOPPED
    status = change_status(status, REQUEST_UNBLOCK, OWNER, by="ann", reason="double opt-in").after
    status = change_status(status, APPROVE_UNBLOCK, OPERATOR, by="ops").after
    assert status == RUNNING


def test_nothing_else_is_allowed_and_every_allowed_change_changes_the_status() -> None:
    allowed = []
    for before in (RUNNING, PAUSED, STOPPED, ASKED):
        for action in ACTIONS:
            for role in ROLES:
                try:
                    after = change_status(before, action, role, by="x", reason=WHY).after
                except (Refused, InvalidState):
                    continue
                assert after != before
                allowed.append((before, action, role, after))
    assert sorted(allowed, key=repr) == sorted(ALLOWED, key=repr)


def test_only_an_active_sender_may_send() -> None:
    check_can_send("news.example.com", RUNNING)
    for status in (PAUSED, STOPPED, ASKED):
        with pytest.raises(SenderInactive, match=r"'news\.example\.com' is") as refused:
            check_can_send("news.example.com", status)
        assert refused.value.details == {"sender": "news.example.com", "status": status.state}
