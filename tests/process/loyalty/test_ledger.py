"""Balances derived from the ledger: pending, spending soonest-expiring first, expiry,
reversals and debts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from channelhub.process.loyalty.ledger import points_in_period, replay
from channelhub.process.loyalty.models import LedgerEntry

T0 = datetime(2026, 1, 1, tzinfo=UTC)
_ids = count(1)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def entry(
    kind: str,
    points: int,
    at: float,
    *,
    available: float | None = None,
    expires: float | None = None,
    lot: LedgerEntry | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        id=f"lpt_{next(_ids):026d}",
        kind=kind,
        points=points,
        created_at=day(at),
        available_at=day(available if available is not None else at),
        expires_at=day(expires) if expires is not None else None,
        lot_id=lot.id if lot is not None else None,
    )


def test_points_wait_for_the_return_window_then_become_available() -> None:
    earned = entry("earn", 100, 0, available=30)

    assert (replay([earned], day(29)).available, replay([earned], day(29)).pending) == (0, 100)
    assert (replay([earned], day(30)).available, replay([earned], day(30)).pending) == (100, 0)


def test_spending_takes_the_points_that_expire_soonest_first() -> None:
    late = entry("earn", 100, 0, expires=300)
    soon = entry("earn", 50, 1, expires=100)
    spend = entry("spend", -60, 2)

    state = replay([late, soon, spend], day(101))

    # The 50 expiring on day 100 were spent first, so nothing expired.
    assert state.expired == 0
    assert state.available == 90
    assert [points for points, _ in state.expiring] == [90]


def test_what_is_left_of_a_lot_expires_and_is_reported_per_lot() -> None:
    lot = entry("earn", 100, 0, expires=365)
    spend = entry("spend", -30, 10)

    before, after = replay([lot, spend], day(364)), replay([lot, spend], day(365))

    assert before.available == 70
    assert [(points, at) for points, at in before.expiring] == [(70, day(365))]
    assert after.available == 0
    assert after.expired == 70
    assert after.expired_by_lot == {lot.id: 70}


def test_a_recorded_expiry_is_not_counted_twice() -> None:
    lot = entry("earn", 100, 0, expires=10)
    recorded = entry("expire", -100, 11, lot=lot)

    state = replay([lot, recorded], day(12))

    assert (state.available, state.expired, state.spent) == (0, 100, 0)


def test_a_refund_takes_back_pending_points_before_anyone_spends_them() -> None:
    lot = entry("earn", 100, 0, available=30)
    other = entry("earn", 40, 0)
    reversed_ = entry("reverse", -100, 5, lot=lot)

    state = replay([lot, other, reversed_], day(40))

    assert (state.available, state.pending, state.earned) == (40, 0, 40)


def test_reversing_points_already_spent_leaves_a_debt_that_new_points_pay() -> None:
    lot = entry("earn", 100, 0)
    spend = entry("spend", -100, 1)
    reversed_ = entry("reverse", -100, 2, lot=lot)
    later = entry("earn", 30, 3)

    assert replay([lot, spend, reversed_], day(2)).available == -100
    assert replay([lot, spend, reversed_, later], day(3)).available == -70


def test_adjustments_add_spendable_points_or_take_them_off() -> None:
    gift = entry("adjust", 25, 0)
    correction = entry("adjust", -5, 1)

    state = replay([gift, correction], day(2))

    assert (state.available, state.earned, state.spent) == (20, 0, 5)


def test_only_earnings_inside_the_period_count_toward_tiers_less_their_reversals() -> None:
    old = entry("earn", 500, 0)
    recent = entry("earn", 300, 200, available=230)
    refunded = entry("reverse", -100, 210, lot=recent)
    gift = entry("adjust", 1000, 210)

    assert points_in_period([old, recent, refunded, gift], day(400), 365) == 200
    assert points_in_period([old, recent, refunded, gift], day(300), 365) == 700


def test_reversing_points_that_already_expired_takes_nothing_twice() -> None:
    lot = entry("earn", 100, 0, expires=10)
    later = entry("earn", 50, 11)
    reversed_ = entry("reverse", -100, 12, lot=lot)

    state = replay([lot, later, reversed_], day(13))

    assert (state.available, state.expired, state.earned) == (50, 100, 50)


def test_reversing_a_partly_spent_lot_owes_only_the_spent_part() -> None:
    lot = entry("earn", 100, 0)
    other = entry("earn", 80, 0, expires=50)
    spend = entry("spend", -120, 1)  # 80 from the lot expiring first, 40 from this one
    reversed_ = entry("reverse", -100, 2, lot=lot)

    state = replay([lot, other, spend, reversed_], day(3))

    # 60 left of the lot go back; the 40 spent of it are owed.
    assert state.available == -40
