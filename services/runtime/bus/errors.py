"""One root error, split by what the consumer must do with the message.

Retryable errors are naked with a delay and come back; permanent ones are dead-lettered
and acknowledged. There is no third way: logging and carrying on would lose work under
at-least-once delivery.
"""

from contracts.envelope import RejectReason

__all__ = [
    "ConfigurationError",
    "IpbusError",
    "PermanentError",
    "RetryableError",
    "StepRefused",
]


class IpbusError(Exception):
    """Root of every error ipbus raises on purpose."""


class ConfigurationError(IpbusError):
    """Wrong settings or registry: raised at start-up, never at the first message."""


class RetryableError(IpbusError):
    """A passing fault (database busy, NATS reconnecting): try the message again later."""


class PermanentError(IpbusError):
    """This message will never succeed: dead-letter it with ``reason``."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class StepRefused(PermanentError):
    """A domain step that the current state does not allow (e.g. a referral out of order)."""

    def __init__(self, detail: str) -> None:
        super().__init__(RejectReason.ILLEGAL_STEP, detail)
