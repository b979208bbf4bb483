"""Who may say what (DESIGN §4a), as every service on the bus applies it to what it reads.

The sender table is in :mod:`contracts.senders`; this is the one place a service turns a
violation into a dead letter, so that the coordinator and every agency refuse alike.
"""

from contracts.agencies import Registry
from contracts.envelope import Event, RejectReason
from contracts.senders import SENDER_RULES, in_whose_name, may_send, referral_route_problem
from services.runtime.bus.errors import PermanentError

__all__ = ["refuse_unpermitted"]


def refuse_unpermitted(registry: Registry, event: Event) -> None:
    """Raise ``not_permitted`` when the event's sender may not send its type at all, or
    not in the name its payload gives, or a referral of its kind not to that recipient."""
    sender = registry.get(event.sender)
    if may_send(event.event_type, sender):
        if (problem := in_whose_name(event.payload, sender)) is not None:
            raise PermanentError(RejectReason.NOT_PERMITTED, problem)
        if event.recipient in registry and (
            problem := referral_route_problem(event.payload, sender, registry.get(event.recipient))
        ):
            raise PermanentError(RejectReason.NOT_PERMITTED, problem)
        return
    allowed = ", ".join(sorted(SENDER_RULES.get(event.event_type, ()))) or "nobody"
    role = f" {sender.role.value}" if sender.role else ""
    raise PermanentError(
        RejectReason.NOT_PERMITTED,
        f"{event.event_type} may come from {allowed} only, not from {sender.id} "
        f"({sender.kind.value}{role})",
    )
