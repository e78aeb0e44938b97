"""Balances derived from the append-only ledger.

A member's entries are replayed in time order:

- an ``earn`` (or a positive ``adjust``) is a *lot* of points; it can be spent from its
  ``available_at`` (pending before) until its ``expires_at``;
- a ``spend`` (or a negative ``adjust``) takes from the available lots that expire
  soonest (first expiring, first spent); what cannot be covered is a debt that the next
  points to become available pay first;
- a ``reverse`` (a refunded order) takes back from its own lot, pending or not; what was
  already spent of it becomes a debt;
- at its ``expires_at`` whatever is left of a lot expires. The expiry job writes that as an
  ``expire`` entry for the record; the replay never counts it twice.

The replay is the single definition of a balance: the API, the expiry job and the
events all use it, so they cannot disagree.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from channelhub.process.loyalty import schemas
from channelhub.process.loyalty.models import LedgerEntry

EXPIRING_SHOWN = 3
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass
class _Lot:
    id: str
    points: int
    available_at: datetime
    expires_at: datetime | None
    remaining: int = 0
    open: bool = False
    spent: int = 0
    """Taken from it by spending (or paying a debt): what a reversal of it may claim back."""
    claimed: int = 0
    """Of ``spent``, what reversals already claimed back."""

    def spend_order(self) -> tuple[datetime, datetime, str]:
        return (self.expires_at or _NEVER, self.available_at, self.id)


@dataclass
class Replay:
    """The state of a member's points at ``now``."""

    now: datetime
    available: int = 0
    pending: int = 0
    earned: int = 0
    spent: int = 0
    expired: int = 0
    expired_by_lot: dict[str, int] = field(default_factory=dict)
    """Lots already expired at ``now`` and what was left of each when they did."""
    expiring: list[tuple[int, datetime]] = field(default_factory=list)

    def balance(self) -> schemas.Balance:
        return schemas.Balance(
            available=self.available,
            pending=self.pending,
            earned=self.earned,
            spent=self.spent,
            expired=self.expired,
            expiring=[
                schemas.ExpiringPoints(points=points, at=at)
                for points, at in self.expiring[:EXPIRING_SHOWN]
            ],
        )


def _is_lot(entry: LedgerEntry) -> bool:
    return entry.kind == schemas.EntryKind.earn.value or (
        entry.kind == schemas.EntryKind.adjust.value and entry.points > 0
    )


class _Spendable:
    """The open lots, soonest to expire first (a heap; emptied lots drop out lazily)."""

    def __init__(self) -> None:
        self._heap: list[tuple[tuple[datetime, datetime, str], _Lot]] = []
        self.debt = 0

    def open(self, lot: _Lot) -> None:
        lot.open = True
        paid = min(self.debt, lot.remaining)
        lot.remaining -= paid
        lot.spent += paid
        self.debt -= paid
        heapq.heappush(self._heap, (lot.spend_order(), lot))

    def take(self, wanted: int) -> None:
        """Take ``wanted`` from the lots; what they cannot cover becomes debt."""
        while wanted > 0 and self._heap:
            lot = self._heap[0][1]
            if not lot.open or lot.remaining == 0:
                heapq.heappop(self._heap)
                continue
            taken = min(wanted, lot.remaining)
            lot.remaining -= taken
            lot.spent += taken
            wanted -= taken
        self.debt += wanted


def replay(entries: Iterable[LedgerEntry], now: datetime) -> Replay:
    """Replay ``entries`` (one member's) up to ``now``."""
    result = Replay(now)
    lots: dict[str, _Lot] = {}
    steps: list[tuple[datetime, int, str, LedgerEntry | _Lot]] = []
    """(when, what: 0 a lot opens, 1 a debit, 2 a lot closes, id, the lot or entry)"""
    for entry in entries:
        if _is_lot(entry):
            lot = _Lot(entry.id, entry.points, entry.available_at, entry.expires_at)
            lot.remaining = entry.points
            lots[entry.id] = lot
            result.earned += entry.points if entry.kind == schemas.EntryKind.earn.value else 0
            steps.append((entry.available_at, 0, entry.id, lot))
            if entry.expires_at is not None:
                steps.append((entry.expires_at, 2, entry.id, lot))
        elif entry.kind != schemas.EntryKind.expire.value:
            steps.append((entry.created_at, 1, entry.id, entry))
    steps.sort(key=lambda step: (step[0], step[1], step[2]))
    spendable = _Spendable()
    for at, step, _, item in steps:
        if at > now:
            break
        if isinstance(item, LedgerEntry):
            _debit(item, lots, spendable, result)
        elif step == 0 and (item.expires_at is None or item.expires_at > at):
            spendable.open(item)
        elif step == 2:
            item.open = False
            result.expired += item.remaining
            result.expired_by_lot[item.id] = item.remaining
            item.remaining = 0
    for lot in lots.values():
        if lot.open:
            result.available += lot.remaining
        elif lot.available_at > now and lot.id not in result.expired_by_lot:
            result.pending += lot.remaining
    result.available -= spendable.debt
    result.expiring = sorted(
        (
            (lot.remaining, lot.expires_at)
            for lot in lots.values()
            if lot.open and lot.expires_at is not None and lot.remaining > 0
        ),
        key=lambda pair: pair[1],
    )
    return result


def _debit(
    entry: LedgerEntry, lots: dict[str, _Lot], spendable: _Spendable, result: Replay
) -> None:
    """Take ``entry``'s points. A reversal takes back from its own lot what is left of it;
    what was spent of it is owed (taken from other points, else a debt); what expired of
    it is not taken twice."""
    wanted = -entry.points
    if entry.kind != schemas.EntryKind.reverse.value:
        result.spent += wanted
        spendable.take(wanted)
        return
    result.earned -= wanted
    own = lots.get(entry.lot_id or "")
    if own is None:
        spendable.take(wanted)
        return
    taken = min(wanted, own.remaining)
    own.remaining -= taken
    owed = min(wanted - taken, own.spent - own.claimed)
    own.claimed += owed
    spendable.take(owed)


def points_in_period(entries: Iterable[LedgerEntry], now: datetime, days: int) -> int:
    """What counts toward a tier by points: earned (pending included) in the last
    ``days``, less what refunds took back of it. Adjustments by hand do not count."""
    since = now - timedelta(days=days)
    earned: dict[str, int] = {}
    reversed_: dict[str, int] = {}
    for entry in entries:
        if entry.kind == schemas.EntryKind.earn.value and since <= entry.created_at <= now:
            earned[entry.id] = entry.points
        elif entry.kind == schemas.EntryKind.reverse.value and entry.lot_id:
            reversed_[entry.lot_id] = reversed_.get(entry.lot_id, 0) - entry.points
    return sum(max(points - reversed_.get(lot, 0), 0) for lot, points in earned.items())
