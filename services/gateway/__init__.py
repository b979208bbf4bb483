"""The agency-side HTTP gateway: the bus as an agency's own systems see it.

The public API of this package: import from here, not from its modules (an import-linter
contract in pyproject.toml holds everyone to it). Names load on first use (PEP 562), so a
module of the runtime that imports a sibling module never waits for this whole package.
"""

from typing import TYPE_CHECKING

from services.runtime.exports import lazy_exports

if TYPE_CHECKING:
    from services.gateway.guard import DEFAULT_MAX_BODY_BYTES
    from services.gateway.idempotency import IdempotencyKeys, IdempotencyRecord
    from services.gateway.inbox import InboxItem, acknowledgements, positioned
    from services.gateway.problems import GatewayProblem
    from services.gateway.server import GatewayServer, gateway_app, gateway_options
    from services.gateway.submit import NOT_SUBMITTABLE
    from services.gateway.tokens import GatewayTokens, Scope, add_token, read_tokens, remove_token
    from services.gateway.webhook_receiver import receiver_app
    from services.gateway.webhooks import WebhookDelivery, new_secret

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "NOT_SUBMITTABLE",
    "GatewayProblem",
    "GatewayServer",
    "GatewayTokens",
    "IdempotencyKeys",
    "IdempotencyRecord",
    "InboxItem",
    "Scope",
    "WebhookDelivery",
    "acknowledgements",
    "add_token",
    "gateway_app",
    "gateway_options",
    "new_secret",
    "positioned",
    "read_tokens",
    "receiver_app",
    "remove_token",
]
_EXPORTS = {
    "DEFAULT_MAX_BODY_BYTES": "services.gateway.guard",
    "GatewayProblem": "services.gateway.problems",
    "GatewayServer": "services.gateway.server",
    "GatewayTokens": "services.gateway.tokens",
    "IdempotencyKeys": "services.gateway.idempotency",
    "IdempotencyRecord": "services.gateway.idempotency",
    "InboxItem": "services.gateway.inbox",
    "NOT_SUBMITTABLE": "services.gateway.submit",
    "Scope": "services.gateway.tokens",
    "WebhookDelivery": "services.gateway.webhooks",
    "acknowledgements": "services.gateway.inbox",
    "add_token": "services.gateway.tokens",
    "gateway_app": "services.gateway.server",
    "gateway_options": "services.gateway.server",
    "new_secret": "services.gateway.webhooks",
    "positioned": "services.gateway.inbox",
    "read_tokens": "services.gateway.tokens",
    "receiver_app": "services.gateway.webhook_receiver",
    "remove_token": "services.gateway.tokens",
}
"""Where each name of :data:`__all__` is defined (the imports above, for type checkers)."""


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
