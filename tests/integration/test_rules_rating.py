"""Rating [SMS platform]: "to send to 10 recipients it may take more than 10 credits". Rate cards
by country in dated versions, e-mail rates per recipient, quotes, sends charged by their content
(one charge per country, all or nothing), and campaigns that hold their quote until they go out.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import postmeter as pm
from postmeter.domain import errors
from postmeter.service.reports import Summary

OP = pm.OPERATOR
START = datetime(2026, 4, 1, 9, tzinfo=UTC)
DEADLINE = START + timedelta(days=7)
# Credits per part, in hundredths (sms has scale 2): the SMS platform's price list.
RATES = "country,credits\nFR,0.75\nDE,1.00\nBR,0.50\nIN,0.25\nUS,0.80\n"
TWO_PARTS = "Your parcel is on its way. " * 6  # 162 GSM-7 characters: two parts

FR = ["+33612345678", "+33612345679", "+33 7 81 23 45 67"]
DE = ["+4915123456789", "+49 30 123456"]
BR = ["+5511961234567", "+55 21 98765-4321"]
IN = ["+918123456789", "+91 98765 43210"]
US = ["+1 201-555-0123"]
TEN = FR + DE + BR + IN + US
JP = "+81 90-1234-5678"  # a real country the card does not rate


@pytest.fixture
def club(ctx: pm.Context) -> pm.Context:
    """An SMS customer with 100.00 credits and the price list in force."""
    pm.create_account(ctx, OP, "open", "club", "Club", "sms@club.test")
    pm.grant(ctx, OP, "welcome", "club", "sms", 10_000, reason="prepaid")
    pm.import_rates(ctx, OP, "rates-1", "sms", RATES)
    return ctx


def sms(
    key: str,
    numbers: list[str],
    text: str = TWO_PARTS,
    *,
    partial: bool = False,
    default_region: str | None = None,
    reference: str | None = None,
    sender: str | None = None,
) -> pm.SendRequest:
    return pm.SendRequest(
        key, "club", "sms", text=text, numbers=numbers, partial=partial,
        default_region=default_region, reference=reference, sender=sender,
    )  # fmt: skip


def balance(ctx: pm.Context) -> Summary:
    return pm.summary(ctx, "club", "sms")


def charged_by_country(ctx: pm.Context) -> dict[str, tuple[int, str | None]]:
    """The journal's charges, by the country their key names: (credits, reference)."""
    found: dict[str, tuple[int, str | None]] = {}
    for entry in pm.journal(ctx, account="club", kind="charge"):
        country = entry.key.rsplit(":", 1)[1]
        credits = found.get(country, (0, None))[0] - entry.delta
        found[country] = (credits, entry.reason)
    return found


def test_ten_recipients_in_several_countries_cost_more_than_ten_credits_journalled_by_country(
    club: pm.Context,
) -> None:
    sent = pm.send(club, OP, sms("campaign-7", TEN, reference="campaign 7"))
    # Two parts each: BR 2x2x0.50, DE 2x2x1.00, FR 3x2x0.75, IN 2x2x0.25, US 1x2x0.80.
    assert [(c.credits) for c in sent.charges] == [200, 400, 450, 100, 160]
    assert sent.credits == 1_310 > 10 * 100  # 13.10 credits for 10 recipients
    assert (sent.balance, balance(club).balance) == (8_690, 8_690)
    assert charged_by_country(club) == {
        "BR": (200, "sms to BR: 2 recipients x 2 parts at 0.50 (campaign 7)"),
        "DE": (400, "sms to DE: 2 recipients x 2 parts at 1.00 (campaign 7)"),
        "FR": (450, "sms to FR: 3 recipients x 2 parts at 0.75 (campaign 7)"),
        "IN": (100, "sms to IN: 2 recipients x 2 parts at 0.25 (campaign 7)"),
        "US": (160, "sms to US: 1 recipient x 2 parts at 0.80 (campaign 7)"),
    }
    pm.verify(club)


def test_a_quote_prices_without_charging_and_the_send_charges_exactly_the_quote(
    club: pm.Context,
) -> None:
    priced = pm.quote(club, "club", "sms", pm.Message(TWO_PARTS, TEN))
    assert (priced.credits, priced.recipients, priced.parts, priced.encoding) == (
        1_310,
        10,
        2,
        "gsm7",
    )
    assert [(line.country, line.recipients, line.parts) for line in priced.lines] == [
        ("BR", 2, 4),
        ("DE", 2, 4),
        ("FR", 3, 6),
        ("IN", 2, 4),
        ("US", 1, 2),
    ]
    assert pm.journal(club, kind="charge") == []
    assert pm.send(club, OP, sms("s", TEN)).priced.lines == priced.lines


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+33 6 12", "invalid_number"),
        ("not a number", "invalid_number"),
        ("+800 1234 5678", "unknown_country"),
        (JP, "no_rate"),
    ],
)
def test_a_number_that_cannot_be_priced_refuses_the_whole_send_naming_it(
    club: pm.Context, number: str, reason: str
) -> None:
    with pytest.raises(errors.Unratable) as refused:
        pm.send(club, OP, sms("s", [*FR, number]))
    [listed] = refused.value.details["recipients"]
    assert (listed["number"], listed["reason"]) == (number, reason)
    assert number in refused.value.message
    assert pm.journal(club, kind="charge") == []
    assert balance(club).balance == 10_000


def test_partial_charges_the_numbers_it_can_price_and_lists_the_others(club: pm.Context) -> None:
    sent = pm.send(club, OP, sms("s", [*FR, JP, "+33 6 12"], text="Hi", partial=True))
    assert [line.country for line in sent.priced.lines] == ["FR"]
    assert sent.credits == 3 * 75
    assert [(r.number, r.reason, r.country) for r in sent.priced.refused] == [
        (JP, "no_rate", "JP"),
        ("+33 6 12", "invalid_number", None),
    ]
    with pytest.raises(errors.Unratable, match="none of the 2"):
        pm.send(club, OP, sms("t", [JP, "+33 6 12"], text="Hi", partial=True))
    assert balance(club).balance == 10_000 - 225


def test_a_send_is_all_or_nothing_across_its_countries(club: pm.Context) -> None:
    pm.correct_down(club, OP, "cut", "club", "sms", 9_000, reason="a smaller balance")
    with pytest.raises(errors.InsufficientCredits):
        pm.send(club, OP, sms("s", TEN))  # 13.10, the first countries would fit in 10.00
    assert pm.journal(club, kind="charge") == []
    assert balance(club).balance == 1_000
    pm.verify(club)


def test_the_same_key_replays_and_a_new_price_under_it_is_refused(
    club: pm.Context, clock: pm.FixedClock
) -> None:
    first = pm.send(club, OP, sms("s", TEN))
    again = pm.send(club, OP, sms("s", TEN))
    assert again.replayed
    assert not first.replayed
    assert [c.txn_id for c in again.charges] == [c.txn_id for c in first.charges]
    clock.advance(timedelta(minutes=1))
    pm.import_rates(club, OP, "rates-2", "sms", "FR,1.00\n*,2.00\n")
    with pytest.raises(errors.IdempotencyConflict):
        pm.send(club, OP, sms("s", TEN))
    with pytest.raises(errors.IdempotencyConflict):  # one more country than booked under "s"
        pm.send(club, OP, sms("s", [*TEN, JP]))
    assert balance(club).balance == 10_000 - first.credits


def test_a_send_is_priced_by_the_card_in_force_when_it_is_charged(
    club: pm.Context, clock: pm.FixedClock
) -> None:
    pm.import_rates(club, OP, "rates-2", "sms", "FR,1.00\n", START + timedelta(days=1))
    assert pm.quote(club, "club", "sms", pm.Message("Hi", FR)).credits == 3 * 75
    clock.set(START + timedelta(days=1))
    sent = pm.send(club, OP, sms("s", FR, text="Hi"))
    assert sent.credits == 3 * 100
    assert sent.priced.rates_from == (START + timedelta(days=1)).isoformat()
    with pytest.raises(errors.Unratable, match="no rate for DE"):
        pm.send(club, OP, sms("t", DE, text="Hi"))  # the new card rates France only


def test_an_email_costs_its_recipients_times_the_account_or_plan_rate(ctx: pm.Context) -> None:
    plan = pm.Plan("news", "Newsletter", "email", 10_000, "days", 30, False, 1, 0, 0, "EUR")
    pm.create_plan(ctx, OP, "plan", plan)
    pm.create_account(ctx, OP, "open", "acme", "Acme", "ops@acme.test")
    pm.subscribe(ctx, OP, "sub", "acme", "news")

    def send(key: str, recipients: int) -> int:
        request = pm.SendRequest(key, "acme", "email", recipients=recipients)
        return pm.send(ctx, OP, request).credits

    assert send("e1", 250) == 250  # one credit each by default
    assert pm.set_email_rate(ctx, OP, "plan-rate", 2, plan="news").credits == 2
    assert send("e2", 250) == 500
    own = pm.set_email_rate(ctx, OP, "acme-rate", 3, account="acme")
    assert (own.credits, own.source) == (3, "account")
    assert send("e3", 250) == 750
    assert pm.set_email_rate(ctx, OP, "acme-clear", None, account="acme").source == "plan"
    assert send("e4", 10) == 20
    assert pm.summary(ctx, "acme", "email").balance == 10_000 - 250 - 500 - 750 - 20
    [charge] = [e for e in pm.journal(ctx, kind="charge") if e.key == "e2"]
    assert charge.reason == "email to 250 recipients at 2"
    with pytest.raises(errors.InvalidAmount):
        pm.set_email_rate(ctx, OP, "bad", -1, account="acme")


def test_packages_buy_so_many_sms_per_country(club: pm.Context) -> None:
    for code, credits in (("sms-1000", 100_000), ("sms-5000", 500_000)):
        package = pm.Package(code, code, "sms", credits, 24, 0, credits // 20, "EUR", True)
        pm.create_package(club, OP, code, package)
    table = {p.package: p.sms for p in pm.packages_per_country(club, "sms")}
    assert table["sms-1000"] == {"BR": 2_000, "DE": 1_000, "FR": 1_333, "IN": 4_000, "US": 1_250}
    assert table["sms-5000"]["FR"] == 6_666


def test_rate_card_versions_take_effect_now_or_later_and_export_as_imported(
    club: pm.Context, clock: pm.FixedClock
) -> None:
    later = START + timedelta(days=30)
    pm.import_rates(club, OP, "rates-2", "sms", "FR,0.70\n*,1.50\n", later)
    with pytest.raises(errors.AlreadyExists):
        pm.import_rates(club, OP, "rates-3", "sms", "FR,0.60\n", later)
    with pytest.raises(errors.InvalidInput, match="now or later"):
        pm.import_rates(club, OP, "rates-4", "sms", "FR,0.60\n", START - timedelta(seconds=1))
    with pytest.raises(errors.InvalidInput, match="line 2"):
        pm.import_rates(club, OP, "rates-5", "sms", "FR,0.60\nXX,1.00\n")
    with pytest.raises(errors.InvalidInput, match="line 1"):
        pm.import_rates(club, OP, "rates-6", "sms", "FR,-0.60\n")
    assert [v.effective_from for v in pm.rate_card(club, "sms").versions] == [START, later]
    assert pm.export_rates(club, "sms") == "country,credits\n" + "".join(
        sorted(RATES.splitlines(keepends=True)[1:])
    )
    clock.set(later)
    assert pm.export_rates(club, "sms") == "country,credits\nFR,0.70\n*,1.50\n"
    assert pm.rates_in_force(club, "sms", START).rate_for("FR") == 75
    with pytest.raises(errors.NotFound, match="no sms rate card"):
        pm.rates_in_force(club, "sms", START - timedelta(days=1))


def test_a_campaign_holds_its_quote_and_captures_what_it_really_costs(club: pm.Context) -> None:
    campaign = pm.schedule_campaign(club, OP, sms("camp-1", TEN), DEADLINE)
    assert (campaign.status, campaign.reserved, campaign.quote.credits) == (
        "scheduled",
        1_310,
        1_310,
    )
    books = balance(club)
    assert (books.balance, books.reserved, books.available) == (10_000, 1_310, 8_690)
    sent = pm.send_campaign(club, OP, "camp-1-send", campaign.id)
    assert (sent.status, sent.captured) == ("sent", 1_310)
    assert sent.sent_quote is not None
    assert sent.sent_quote.lines == campaign.quote.lines
    books = balance(club)
    assert (books.balance, books.reserved, books.available) == (8_690, 0, 8_690)
    assert pm.send_campaign(club, OP, "camp-1-send", campaign.id) == sent  # replayed
    with pytest.raises(errors.InvalidState, match="sent already"):
        pm.send_campaign(club, OP, "camp-1-again", campaign.id)
    pm.verify(club)


def test_a_rate_card_changed_between_scheduling_and_sending_charges_the_card_at_sending(
    club: pm.Context, clock: pm.FixedClock
) -> None:
    cheaper = pm.schedule_campaign(club, OP, sms("cheaper", FR + DE), DEADLINE)
    dearer = pm.schedule_campaign(club, OP, sms("dearer", FR + DE), DEADLINE)
    assert cheaper.reserved == dearer.reserved == 3 * 2 * 75 + 2 * 2 * 100  # 8.50
    pm.import_rates(club, OP, "rates-2", "sms", "FR,0.50\nDE,2.00\n", START + timedelta(days=1))
    pm.import_rates(club, OP, "rates-3", "sms", "FR,0.25\nDE,0.50\n", START + timedelta(days=2))
    clock.set(START + timedelta(days=1, hours=1))
    # 3 x 2 x 0.50 + 2 x 2 x 2.00 = 11.00: 8.50 from the hold, 2.50 drawn afresh.
    assert pm.send_campaign(club, OP, "send-dearer", dearer.id).captured == 1_100
    clock.set(START + timedelta(days=2, hours=1))
    # 3 x 2 x 0.25 + 2 x 2 x 0.50 = 3.50: the other 5.00 go back to the lot.
    done = pm.send_campaign(club, OP, "send-cheaper", cheaper.id)
    assert done.captured == 350
    assert done.sent_quote is not None
    assert done.sent_quote.rates_from == (START + timedelta(days=2)).isoformat()
    books = balance(club)
    assert (books.balance, books.reserved) == (10_000 - 1_100 - 350, 0)
    captures = [e for e in pm.journal(club, account="club") if e.kind in ("capture", "charge")]
    assert sorted(-e.delta for e in captures) == [250, 350, 850]
    pm.verify(club)


def test_a_campaign_costing_more_than_its_account_has_is_refused_and_stays_scheduled(
    club: pm.Context, clock: pm.FixedClock
) -> None:
    campaign = pm.schedule_campaign(club, OP, sms("camp", FR), DEADLINE)
    pm.correct_down(club, OP, "cut", "club", "sms", 10_000 - 450, reason="spent elsewhere")
    pm.import_rates(club, OP, "rates-2", "sms", "FR,1.00\n", START + timedelta(hours=1))
    clock.set(START + timedelta(hours=1))
    with pytest.raises(errors.InsufficientCredits):
        pm.send_campaign(club, OP, "send", campaign.id)  # 6.00 to pay, 4.50 held, none free
    assert pm.get_campaign(club, campaign.id).status == "scheduled"
    assert balance(club).reserved == 450
    pm.grant(club, OP, "top-up", "club", "sms", 500, reason="top-up")
    assert pm.send_campaign(club, OP, "send", campaign.id).captured == 600
    assert balance(club).balance == 450 + 500 - 600
    pm.verify(club)


def test_cancelling_releases_it_all_and_an_unsent_campaign_expires_at_its_deadline(
    club: pm.Context, clock: pm.FixedClock
) -> None:
    cancelled = pm.schedule_campaign(club, OP, sms("a", FR), DEADLINE)
    forgotten = pm.schedule_campaign(club, OP, sms("b", DE), DEADLINE)
    assert balance(club).reserved == 450 + 400
    assert pm.cancel_campaign(club, OP, "cancel-a", cancelled.id).status == "cancelled"
    assert balance(club).reserved == 400
    with pytest.raises(errors.InvalidState):
        pm.send_campaign(club, OP, "send-a", cancelled.id)
    clock.set(DEADLINE)
    assert pm.tick(club).timeouts == 1
    assert pm.get_campaign(club, forgotten.id).status == "expired"
    assert [c.status for c in pm.list_campaigns(club, "club")] == ["cancelled", "expired"]
    books = balance(club)
    assert (books.balance, books.reserved, books.available) == (10_000, 0, 10_000)
    with pytest.raises(errors.NotFound):
        pm.cancel_campaign(club, OP, "c", 999)
    pm.verify(club)


def test_a_schedule_retried_after_a_crash_reserves_what_the_first_try_did(
    club: pm.Context, clock: pm.FixedClock
) -> None:
    # The first try reserved its quote, then stopped before the campaign was written.
    held = pm.reserve(club, OP, "camp", "club", "sms", 3 * 2 * 75, DEADLINE)
    clock.advance(timedelta(minutes=1))
    pm.import_rates(club, OP, "rates-2", "sms", "FR,1.00\n")  # the quote now would be 6.00
    campaign = pm.schedule_campaign(club, OP, sms("camp", FR), DEADLINE)
    assert (campaign.id, campaign.reserved) == (held.id, 450)
    assert balance(club).reserved == 450


def test_a_campaign_keeps_its_message_to_price_it_again(club: pm.Context) -> None:
    request = sms("c", ["06 12 34 56 78", JP], text="Soldes ✨", default_region="FR", partial=True)
    campaign = pm.schedule_campaign(club, OP, request, DEADLINE)
    assert campaign.message == pm.Message("Soldes ✨", ("06 12 34 56 78", JP), None, "FR", True)
    assert (campaign.quote.encoding, campaign.quote.credits) == ("ucs2", 75)
    assert [r.number for r in campaign.quote.refused] == [JP]
    with pytest.raises(errors.InvalidInput, match="sender"):
        pm.schedule_campaign(club, OP, sms("d", FR, sender="list-a"), DEADLINE)


def test_an_all_or_nothing_batch_raises_its_first_refusal_and_books_nothing(
    club: pm.Context,
) -> None:
    requests = [
        pm.ChargeRequest("a", "club", "sms", 100),
        pm.ChargeRequest("b", "club", "sms", 1_000_000),
        pm.ChargeRequest("c", "nobody", "sms", 1),
    ]
    with pytest.raises(errors.InsufficientCredits):
        pm.charge_batch(club, OP, requests, atomic=True)
    assert balance(club).balance == 10_000
    outcomes = pm.charge_batch(club, OP, requests)  # the default: each item on its own
    assert [o.error is None for o in outcomes] == [True, False, False]
    with pytest.raises(errors.IdempotencyConflict, match="booked before"):
        pm.charge_batch(
            club, OP, [requests[0], pm.ChargeRequest("d", "club", "sms", 1)], atomic=True
        )
    again = pm.charge_batch(club, OP, [requests[0]], atomic=True)
    assert again[0].charge is not None
    assert again[0].charge.replayed
    assert balance(club).balance == 10_000 - 100


def test_an_email_campaign_is_charged_at_the_rate_in_force_when_it_goes_out(
    ctx: pm.Context,
) -> None:
    pm.create_account(ctx, OP, "open", "acme", "Acme", "ops@acme.test")
    pm.grant(ctx, OP, "welcome", "acme", "email", 5_000, reason="prepaid")
    request = pm.SendRequest("news-1", "acme", "email", recipients=1_000)
    campaign = pm.schedule_campaign(ctx, OP, request, DEADLINE)
    assert (campaign.reserved, campaign.quote.rate) == (1_000, 1)
    pm.set_email_rate(ctx, OP, "rate", 2, account="acme")
    sent = pm.send_campaign(ctx, OP, "news-1-send", campaign.id)
    assert (sent.captured, sent.recipients, sent.text) == (2_000, 1_000, None)
    assert pm.summary(ctx, "acme", "email").balance == 3_000
    pm.verify(ctx)
