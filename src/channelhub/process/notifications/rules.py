"""Is a notice still true? Asked of the status API's answer right before each send.

A notice was true when it was scheduled; by the time it goes out the order may have moved
on (the store closed, the order was cancelled, the parcel already arrived). Each kind names
the status codes in which it is still worth saying; in any other, it is dropped with the
reason, and whatever did happen has its own notice. Facts about money and returned goods
(``return_received``, ``refund_issued``) stay true whatever happens next.
"""

from __future__ import annotations

from channelhub.process.orders.timeline import NoticeKind

_EVERY_CODE = frozenset(
    {
        "placed",
        "confirmed",
        "action_needed",
        "ready_for_pickup",
        "picked_up",
        "partially_shipped",
        "shipped",
        "out_for_delivery",
        "delivery_attempt_failed",
        "at_pickup_point",
        "delivery_problem",
        "delivered",
        "return_requested",
        "return_in_progress",
        "returned",
        "refunded",
        "cancelled",
    }
)
_ON_THE_WAY = frozenset(
    {
        "partially_shipped",
        "shipped",
        "out_for_delivery",
        "delivery_attempt_failed",
        "at_pickup_point",
        "delivery_problem",
    }
)

STILL_TRUE: dict[NoticeKind, frozenset[str]] = {
    NoticeKind.order_confirmed: _EVERY_CODE - {"cancelled"},
    NoticeKind.ready_for_pickup: frozenset({"ready_for_pickup"}),
    NoticeKind.store_closed: frozenset({"action_needed"}),
    NoticeKind.closure_resolved: _EVERY_CODE - {"cancelled", "action_needed"},
    NoticeKind.shipped: _ON_THE_WAY,
    NoticeKind.out_for_delivery: frozenset({"out_for_delivery"}),
    NoticeKind.delivery_exception: frozenset({"delivery_attempt_failed", "delivery_problem"}),
    NoticeKind.delivered: _EVERY_CODE - {"cancelled"},
    NoticeKind.cancelled: frozenset({"cancelled"}),
    NoticeKind.return_received: _EVERY_CODE,
    NoticeKind.refund_issued: _EVERY_CODE,
}
"""Per notice kind: the status codes in which it may still be sent."""

_WHAT_HAPPENED = {
    "cancelled": "the order was cancelled",
    "action_needed": "the pickup store closed",
    "delivered": "the order was already delivered",
    "picked_up": "the order was already collected",
    "ready_for_pickup": "the order is already ready for pickup",
}


def overtaken(kind: NoticeKind, code: str) -> str | None:
    """Why a notice of ``kind`` would now mislead, given the status code now; None while
    it is still true."""
    if code in STILL_TRUE[kind]:
        return None
    return _WHAT_HAPPENED.get(code, f"the order moved on (status now {code})")


_PICKUP_GONE = frozenset({"cancelled", "action_needed", "picked_up"})


def pickup_still_ready(code: str, *, group_statuses: list[str], store_state: str | None) -> bool:
    """Whether "ready for pickup" is still true of an order whose overall code says
    something else: in an order with a shipped part, the code speaks of the parcel, while
    a pickup group can be ready at its store. True when a pickup group is ready and its
    store is not closed (shut for the night or a holiday still counts: the order waits
    there); never once the order was cancelled, needs the customer's choice, or was
    collected."""
    return (
        code not in _PICKUP_GONE
        and "ready_for_pickup" in group_statuses
        and store_state is not None
        and store_state != "temporarily_closed"
    )
