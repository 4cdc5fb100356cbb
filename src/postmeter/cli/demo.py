"""``postmeter demo``: a data set that tells each seed's story, loaded idempotently.

Each story is dated back from the moment the demo was first loaded (the *base*): the
AcyMailing licence was opened 12 days before it, the SMS platform's first package bought 400
days before it, and so on. Every step runs at its own instant on a fixed clock and under a fixed
idempotency key; the base is read back from the first account's creation time, so a second run
replays every step at the very same instants and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer

import postmeter as pm
from postmeter.cli import serve
from postmeter.cli.admin import redacted
from postmeter.cli.output import emit_json, show, table, when
from postmeter.cli.serve import Host, Port, TickInterval
from postmeter.cli.session import session
from postmeter.cli.views import summary_doc
from postmeter.domain.units import Unit
from postmeter.service.accounts import get_account
from postmeter.service.reports import Summary
from postmeter.service.units import get_unit

DAY = timedelta(days=1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    serve_after: Annotated[
        bool,
        typer.Option("--serve", help="Then serve the HTTP API with a fresh operator key."),
    ] = False,
    host: Host = None,
    port: Port = None,
    tick_interval: TickInterval = None,
) -> None:
    """Load the demo data set (each seed's story); run it again and nothing changes."""
    state = session(ctx)
    books = state.books(migrate=True)
    before = pm.verify(books).entries
    stories = Loader(books, state.actor).load()
    pm.tick(books)
    after = pm.verify(books)
    if state.json:
        emit_json(_document(books, state.url, stories, after.entries - before, after))
    else:
        _print(books, state.url, stories, after.entries - before)
    if serve_after:
        serve.run(books, state.url, host, port, tick_interval, demo_key=True)


@dataclass(frozen=True, slots=True)
class Story:
    seed: str
    account: str
    unit: str
    told: str  # what the story shows, in a sentence


@dataclass
class Loader:
    books: pm.Context
    actor: pm.Actor

    def at(self, when: datetime) -> pm.Context:
        """The books as of ``when``: each step of a story happens at its own instant."""
        return pm.Context(store=self.books.store, clock=pm.FixedClock(when))

    def load(self) -> list[Story]:
        first = pm.create_account(
            self.at(self.books.clock.now() - 12 * DAY),
            self.actor,
            "demo:acymailing:account",
            "acymailing-licence",
            "AcyMailing multi-site licence",
            "licence@acymailing.example",
            "Europe/Paris",
        )
        base = datetime.fromisoformat(first.created_at) + 12 * DAY
        # Mailpro comes last: its sign-up policy gives every e-mail account opened after it 500.
        return [
            self.acymailing(base),
            self.directmail(base),
            self.sms_platform(base),
            self.white_label(base),
            self.mailpro(base),
        ]

    def acymailing(self, base: datetime) -> Story:
        ref = "acymailing-licence"
        self.plan("acy-multisite-20k", "Multi-site + Sending Service", 20_000, days=30)
        pm.subscribe(self.at(base - 12 * DAY), self.actor, "demo:acy:sub", ref, "acy-multisite-20k")
        for day, domain, credits in ((9, 1, 4_200), (5, 2, 3_100), (1, 3, 2_700)):
            self.charge(
                base - day * DAY,
                f"demo:acy:send{domain}",
                ref,
                "email",
                credits,
                f"domain{domain}.example",
            )
        return Story("AcyMailing", ref, "email", "one 20,000 pool per rolling 30 days, 3 domains")

    def directmail(self, base: datetime) -> Story:
        ref = "directmail-shop"
        self.package("dm-10k", "Resource package 10,000", "email", 10_000, 1_800, "USD", months=6)
        self.package("dm-50k", "Resource package 50,000", "email", 50_000, 8_000, "USD", months=6)
        self.account(base - 170 * DAY, "directmail", ref, "DirectMail shop", "Asia/Shanghai")
        pm.set_payg(
            self.books, self.actor, "demo:directmail:payg", ref, "email", (200, 1_000, "USD")
        )
        self.buy(base - 160 * DAY, "demo:directmail:buy1", ref, "dm-10k")
        self.buy(base - 60 * DAY, "demo:directmail:buy2", ref, "dm-50k")
        self.charge(base - 40 * DAY, "demo:directmail:send1", ref, "email", 8_000, "campaign-1")
        self.charge(base - 20 * DAY, "demo:directmail:send2", ref, "email", 30_000, "campaign-2")
        self.charge(base - 3 * DAY, "demo:directmail:send3", ref, "email", 25_000, "campaign-3")
        self.buy(base - 1 * DAY, "demo:directmail:buy3", ref, "dm-10k")
        return Story(
            "DirectMail", ref, "email", "6-month packages, soonest expiry first, then pay-as-you-go"
        )

    def sms_platform(self, base: datetime) -> Story:
        ref = "sms-bulk"
        pm.set_policy(self.books, self.actor, "demo:sms:policy", "sms", extend_on_purchase=True)
        self.package("sms-1000", "1,000 SMS credits", "sms", 100_000, 6_500, "EUR", months=24)
        self.package("sms-5000", "5,000 SMS credits", "sms", 500_000, 30_000, "EUR", months=24)
        self.account(base - 400 * DAY, "sms", ref, "SMS bulk sender", "Europe/Rome")
        self.buy(base - 400 * DAY, "demo:sms:buy1", ref, "sms-1000")
        self.charge(base - 300 * DAY, "demo:sms:send1", ref, "sms", 42_050, "list newsletter")
        self.buy(base - 30 * DAY, "demo:sms:buy2", ref, "sms-5000")
        pm.reserve(
            self.at(base - 2 * DAY),
            self.actor,
            "demo:sms:scheduled",
            ref,
            "sms",
            15_000,
            base + 5 * DAY,
        )
        return Story(
            "SMS platform", ref, "sms", "2-year packages; a new one extends the old one's expiry"
        )

    def white_label(self, base: datetime) -> Story:
        ref = "whitelabel-reseller"
        self.plan("wl-1m", "White Label 1M", 1_000_000, monthly=True, seats=25, ips=1)
        self.account(base - 3 * DAY, "whitelabel", ref, "White-label reseller", "Europe/Paris")
        pm.subscribe(
            self.at(base - 3 * DAY), self.actor, "demo:whitelabel:sub", ref, "wl-1m", anchor_day=12
        )
        return Story(
            "White label", ref, "email", "1,000,000 a month renewing on the 12th; children later"
        )

    def mailpro(self, base: datetime) -> Story:
        ref = "mailpro-studio"
        pm.set_policy(self.books, self.actor, "demo:mailpro:signup", "email", signup_credits=500)
        self.plan("mailpro-5000", "Mailpro 5,000 a month", 5_000, monthly=True)
        self.account(base - 45 * DAY, "mailpro", ref, "Mailpro studio", "Europe/Rome")
        pm.subscribe(self.at(base - 45 * DAY), self.actor, "demo:mailpro:sub", ref, "mailpro-5000")
        self.charge(base - 40 * DAY, "demo:mailpro:send1", ref, "email", 3_000, "newsletter-1")
        # The month ends: what is left of it expires, the next month's credits come in.
        pm.tick(self.at(base - 10 * DAY))
        self.charge(base - 4 * DAY, "demo:mailpro:send2", ref, "email", 1_200, "newsletter-2")
        return Story(
            "Mailpro", ref, "email", "500 sign-up credits; monthly credits do not roll over"
        )

    def account(self, at: datetime, story: str, ref: str, name: str, timezone: str) -> None:
        pm.create_account(
            self.at(at),
            self.actor,
            f"demo:{story}:account",
            ref,
            name,
            f"billing@{ref}.example",
            timezone,
        )

    def plan(
        self,
        code: str,
        name: str,
        credits: int,
        *,
        days: int | None = None,
        monthly: bool = False,
        seats: int = 1,
        ips: int = 0,
    ) -> None:
        plan = pm.Plan(
            code,
            name,
            "email",
            credits,
            "monthly" if monthly else "days",
            days,
            False,
            seats,
            ips,
            0,
            "EUR",
        )
        pm.create_plan(self.books, self.actor, f"demo:plan:{code}", plan)

    def package(
        self,
        code: str,
        name: str,
        unit: str,
        credits: int,
        price_minor: int,
        currency: str,
        *,
        months: int,
    ) -> None:
        package = pm.Package(code, name, unit, credits, months, 0, price_minor, currency, True)
        pm.create_package(self.books, self.actor, f"demo:package:{code}", package)

    def buy(self, at: datetime, key: str, ref: str, package: str) -> None:
        pm.buy(self.at(at), self.actor, key, ref, package)

    def charge(
        self, at: datetime, key: str, ref: str, unit: str, credits: int, reference: str
    ) -> None:
        pm.charge(self.at(at), self.actor, pm.ChargeRequest(key, ref, unit, credits, reference))


def figures(books: pm.Context, story: Story) -> tuple[Summary, Unit, str]:
    """The story's summary now, and its figures in one line."""
    unit = get_unit(books, story.unit)
    s = pm.summary(books, story.account, story.unit)
    tz = get_account(books, story.account).timezone
    parts = [f"balance {unit.format(s.balance)}"]
    if s.reserved:
        parts.append(f"reserved {unit.format(s.reserved)}, available {unit.format(s.available)}")
    for p in s.periods:
        parts.append(
            f"{p.plan}: {unit.format(p.left)} of {unit.format(p.credits)} left, "
            f"next reset {when(p.next_reset_at, tz)}"
        )
    packages = [lot for lot in s.lots if lot.package]
    if packages:
        expiries = sorted({when(lot.expires_at, tz) for lot in packages})
        plural = "s" if len(packages) > 1 else ""
        parts.append(f"{len(packages)} live package{plural}, expiring {', '.join(expiries)}")
    if s.overage:
        parts.append(f"overage {unit.format(s.overage)} billable")
    expired = sum(-e.delta for e in pm.journal(books, account=story.account, kind="expire"))
    if expired:
        parts.append(f"{unit.format(expired)} unused credits expired")
    return s, unit, "; ".join(parts)


def _print(books: pm.Context, url: str, stories: list[Story], added: int) -> None:
    rows = []
    for story in stories:
        _, _, line = figures(books, story)
        rows.append((story.seed, story.account, story.unit, f"{story.told}. {line}"))
    again = "loaded" if added else "already there: nothing changed"
    show(
        f"demo data set {again} on {redacted(url)} ({added} journal entries added)",
        table(None, ["seed", "account", "unit", "story"], rows),
        "see one: postmeter balance ACCOUNT --unit UNIT; postmeter journal --account ACCOUNT",
    )


def _document(
    books: pm.Context, url: str, stories: list[Story], added: int, checked: pm.VerifyReport
) -> dict[str, Any]:
    docs = []
    for story in stories:
        summary, unit, line = figures(books, story)
        docs.append(
            {
                "seed": story.seed,
                "account": story.account,
                "unit": story.unit,
                "story": story.told,
                "figures": line,
                "summary": summary_doc(summary, unit),
            }
        )
    return {
        "database": redacted(url),
        "entries_added": added,
        "stories": docs,
        "verify": {"ok": True, "entries": checked.entries, "lots": checked.lots},
    }
