"""A sender's status: active, suspended by its owner, or blocked, and who may change it.

The owner runs its own sender: it suspends and resumes it, and when the operator (or the
reputation check, acting as ``system``) has blocked it, asks for it to be unblocked. Only the
operator lifts a block, directly or by approving the request; refusing one needs a reason, and the
owner may ask again. The operator may also suspend and resume, acting for an owner.

Every change carries who made it and, where someone is told no, why: blocking, refusing a request
and asking for one need a reason (the operator needs to know what the owner fixed).

A block outranks a suspension, and lifting it makes the sender active: the owner suspends again
if it still wants to. Remembering the suspension under the block would be a state no one sees.
"""

from __future__ import annotations

from dataclasses import dataclass

from postmeter.domain.errors import InvalidInput, InvalidState, Refused, SenderInactive
from postmeter.domain.validate import check_text

ACTIVE = "active"
SUSPENDED = "suspended"
BLOCKED = "blocked"
SENDER_STATES = (ACTIVE, SUSPENDED, BLOCKED)

OWNER = "owner"
OPERATOR = "operator"
SYSTEM = "system"  # postmeter itself: the reputation check
ROLES = (OWNER, OPERATOR, SYSTEM)

SUSPEND = "suspend"
RESUME = "resume"
BLOCK = "block"
UNBLOCK = "unblock"
REQUEST_UNBLOCK = "request_unblock"
APPROVE_UNBLOCK = "approve_unblock"
REFUSE_UNBLOCK = "refuse_unblock"
ACTIONS = (SUSPEND, RESUME, BLOCK, UNBLOCK, REQUEST_UNBLOCK, APPROVE_UNBLOCK, REFUSE_UNBLOCK)

_MAY: dict[str, tuple[str, ...]] = {
    SUSPEND: (OWNER, OPERATOR),
    RESUME: (OWNER, OPERATOR),
    BLOCK: (OPERATOR, SYSTEM),
    UNBLOCK: (OPERATOR,),
    REQUEST_UNBLOCK: (OWNER,),
    APPROVE_UNBLOCK: (OPERATOR,),
    REFUSE_UNBLOCK: (OPERATOR,),
}
_NEEDS_REASON = (BLOCK, REFUSE_UNBLOCK, REQUEST_UNBLOCK)

# What each action needs: (states it starts from, an unblock request pending or not, or either)
# and the state it leaves.
_MOVES: dict[str, tuple[tuple[str, ...], bool | None, str]] = {
    SUSPEND: ((ACTIVE,), None, SUSPENDED),
    RESUME: ((SUSPENDED,), None, ACTIVE),
    BLOCK: ((ACTIVE, SUSPENDED), None, BLOCKED),
    UNBLOCK: ((BLOCKED,), None, ACTIVE),  # a direct unblock answers a pending request too
    REQUEST_UNBLOCK: ((BLOCKED,), False, BLOCKED),
    APPROVE_UNBLOCK: ((BLOCKED,), True, ACTIVE),
    REFUSE_UNBLOCK: ((BLOCKED,), True, BLOCKED),
}

# The mistakes people make, answered with what to do instead.
_HINTS: dict[tuple[str, str], str] = {
    (RESUME, BLOCKED): "a blocked sender is not resumed: ask the operator to unblock it",
    (SUSPEND, BLOCKED): "the sender is blocked already, which stops it",
    (REQUEST_UNBLOCK, ACTIVE): "the sender is not blocked",
    (REQUEST_UNBLOCK, SUSPENDED): "the sender is suspended, not blocked: resume it",
}


@dataclass(frozen=True, slots=True)
class SenderStatus:
    state: str = ACTIVE
    unblock_requested: bool = False

    def __post_init__(self) -> None:
        if self.state not in SENDER_STATES:
            raise InvalidInput(f"unknown sender state {self.state!r}", value=self.state)
        if self.unblock_requested and self.state != BLOCKED:
            raise InvalidInput("only a blocked sender can have an unblock request")


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One change, as the journal of a sender keeps it."""

    action: str
    role: str
    by: str
    reason: str | None
    before: SenderStatus
    after: SenderStatus


def change_status(
    current: SenderStatus, action: str, role: str, *, by: str, reason: str | None = None
) -> StatusChange:
    """Apply ``action`` by ``by`` acting as ``role``; refuse what the role or state forbids.

    Raises Refused when the role may not act so, InvalidState when the state does not allow it,
    InvalidInput when a needed reason is missing.

    >>> change_status(SenderStatus(), SUSPEND, OWNER, by="ann@example.com").after.state
    'suspended'
    """
    _check_may(action, role)
    check_text(by, "who made the change")
    if action in _NEEDS_REASON or reason is not None:
        check_text(reason or "", f"the reason to {action.replace('_', ' ')}", 500)
    after = _move(current, action)
    return StatusChange(action, role, by, reason, current, after)


def check_can_send(name: str, status: SenderStatus) -> None:
    """Refuse a send from a sender that is not active (the first check of a charge)."""
    if status.state != ACTIVE:
        raise SenderInactive(f"sender {name!r} is {status.state}", sender=name, status=status.state)


def _check_may(action: str, role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}", value=role)
    if action not in _MAY:
        raise InvalidInput(f"unknown action {action!r}", value=action)
    if role not in _MAY[action]:
        who = " or ".join(_MAY[action])
        raise Refused(
            f"only the {who} may {action.replace('_', ' ')} a sender, not the {role}",
            action=action,
            role=role,
        )


def _move(current: SenderStatus, action: str) -> SenderStatus:
    starts, needs_request, after = _MOVES[action]
    if current.state not in starts:
        hint = _HINTS.get((action, current.state), f"the sender is {current.state}")
        raise InvalidState(
            f"cannot {action.replace('_', ' ')}: {hint}", action=action, state=current.state
        )
    if needs_request is not None and current.unblock_requested != needs_request:
        hint = "an unblock request is pending" if needs_request is False else "nothing was asked"
        raise InvalidState(
            f"cannot {action.replace('_', ' ')}: {hint}", action=action, state=current.state
        )
    return SenderStatus(after, unblock_requested=action == REQUEST_UNBLOCK)
