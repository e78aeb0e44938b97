"""The state machines: each fulfilment group's, and the order's, which follows them.

A group moves only along the transitions listed here; anything else is refused with a
409 that names the group, where it is and what was asked. The order's status is derived
from its groups (and its confirmation, cancellation and returns) after every change, and
the derived move must itself be one the order's table allows: so an order never goes
back from delivered to confirmed, whatever sequence of commands arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from channelhub.platform.errors import ConflictError
from channelhub.process.orders.schemas import GroupStatus, Method, OrderStatus


class GroupEvent(StrEnum):
    ready = "ready"
    """The store has the items ready for the customer."""
    pick_up = "pick_up"
    ship_part = "ship_part"
    ship_all = "ship_all"
    deliver = "deliver"
    reroute = "reroute"
    """Sent somewhere else (another store, or home) after its store closed."""
    cancel = "cancel"


_GROUP_TRANSITIONS: dict[tuple[GroupStatus, GroupEvent], GroupStatus] = {
    (GroupStatus.open, GroupEvent.ready): GroupStatus.ready_for_pickup,
    (GroupStatus.open, GroupEvent.ship_part): GroupStatus.partially_shipped,
    (GroupStatus.open, GroupEvent.ship_all): GroupStatus.shipped,
    (GroupStatus.open, GroupEvent.reroute): GroupStatus.open,
    (GroupStatus.open, GroupEvent.cancel): GroupStatus.cancelled,
    (GroupStatus.partially_shipped, GroupEvent.ship_part): GroupStatus.partially_shipped,
    (GroupStatus.partially_shipped, GroupEvent.ship_all): GroupStatus.shipped,
    (GroupStatus.shipped, GroupEvent.deliver): GroupStatus.delivered,
    (GroupStatus.ready_for_pickup, GroupEvent.pick_up): GroupStatus.picked_up,
    (GroupStatus.ready_for_pickup, GroupEvent.reroute): GroupStatus.open,
    (GroupStatus.ready_for_pickup, GroupEvent.cancel): GroupStatus.cancelled,
}
_METHOD_ONLY = {
    GroupEvent.ready: Method.pickup,
    GroupEvent.pick_up: Method.pickup,
    GroupEvent.ship_part: Method.ship,
    GroupEvent.ship_all: Method.ship,
    GroupEvent.deliver: Method.ship,
}


class ImpossibleTransition(ConflictError):
    code = "impossible_transition"


def next_group_status(
    group_id: str, method: Method, status: GroupStatus, event: GroupEvent
) -> GroupStatus:
    """Where ``event`` takes a group, or ImpossibleTransition."""
    needed = _METHOD_ONLY.get(event)
    if needed is not None and needed is not method:
        raise ImpossibleTransition(
            f"fulfilment group {group_id} is a {method.value} group; {event.value} needs "
            f"a {needed.value} group",
            group_id=group_id,
            group_status=status.value,
        )
    target = _GROUP_TRANSITIONS.get((status, event))
    if target is None:
        raise ImpossibleTransition(
            f"fulfilment group {group_id} is {status.value}; it cannot {event.value}",
            group_id=group_id,
            group_status=status.value,
        )
    return target


_ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.placed: frozenset({OrderStatus.confirmed, OrderStatus.cancelled}),
    OrderStatus.confirmed: frozenset(
        {
            OrderStatus.partially_fulfilled,
            OrderStatus.ready_for_pickup,
            OrderStatus.fulfilled,
            OrderStatus.picked_up,
            OrderStatus.delivered,
            OrderStatus.cancelled,
        }
    ),
    OrderStatus.partially_fulfilled: frozenset(
        {
            OrderStatus.ready_for_pickup,
            OrderStatus.fulfilled,
            OrderStatus.picked_up,
            OrderStatus.delivered,
            OrderStatus.partially_returned,
            OrderStatus.returned,
        }
    ),
    OrderStatus.ready_for_pickup: frozenset(
        {
            OrderStatus.confirmed,
            OrderStatus.partially_fulfilled,
            OrderStatus.fulfilled,
            OrderStatus.picked_up,
            OrderStatus.delivered,
            OrderStatus.cancelled,
        }
    ),
    OrderStatus.fulfilled: frozenset(
        {OrderStatus.delivered, OrderStatus.partially_returned, OrderStatus.returned}
    ),
    OrderStatus.picked_up: frozenset({OrderStatus.partially_returned, OrderStatus.returned}),
    OrderStatus.delivered: frozenset({OrderStatus.partially_returned, OrderStatus.returned}),
    OrderStatus.partially_returned: frozenset({OrderStatus.returned}),
    OrderStatus.returned: frozenset(),
    OrderStatus.cancelled: frozenset(),
}
"""Which order status may follow which (ready_for_pickup -> confirmed: re-routed after its
store closed; fulfilled -> returned: the last parcel arrived after a return of what came
first)."""

_COMPLETE = frozenset({GroupStatus.delivered, GroupStatus.picked_up})
_LEFT = frozenset({GroupStatus.shipped, GroupStatus.delivered, GroupStatus.picked_up})
_STARTED_LEAVING = _LEFT | {GroupStatus.partially_shipped}


def derived_status(
    *,
    confirmed: bool,
    cancelled: bool,
    groups: Sequence[GroupStatus],
    fulfilled_units: int,
    returned_units: int,
) -> OrderStatus:
    """The order's status as its parts say it is."""
    active = [g for g in groups if g is not GroupStatus.cancelled]
    if cancelled or not active:
        return OrderStatus.cancelled
    complete = all(g in _COMPLETE for g in active)
    if complete and returned_units:
        return (
            OrderStatus.returned
            if returned_units >= fulfilled_units
            else OrderStatus.partially_returned
        )
    if not confirmed:
        return OrderStatus.placed
    if complete:
        picked = all(g is GroupStatus.picked_up for g in active)
        return OrderStatus.picked_up if picked else OrderStatus.delivered
    if all(g in _LEFT for g in active):
        return OrderStatus.fulfilled
    if any(g in _STARTED_LEAVING for g in active):
        return OrderStatus.partially_fulfilled
    if any(g is GroupStatus.ready_for_pickup for g in active):
        return OrderStatus.ready_for_pickup
    return OrderStatus.confirmed


def check_order_move(order_id: str, current: OrderStatus, target: OrderStatus) -> None:
    """Refuse a move the order's table does not allow (staying put is always allowed)."""
    if target is not current and target not in _ORDER_TRANSITIONS[current]:
        raise ImpossibleTransition(
            f"order {order_id} is {current.value}; it cannot become {target.value}",
            order_status=current.value,
        )
