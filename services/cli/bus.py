"""The operator's connection for the ``ipbus`` commands that talk to the bus.

Every such command connects through :func:`operator_client` (the bus ``ipbus up``
recorded in the data dir, or ``IPBUS_NATS_URL``; the operator's nkey) and runs through
:func:`run_on_bus`, which turns a bus that is down, credentials it refuses or a right the
operator lacks into one line on stderr and exit code 2, never a traceback.
"""

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar

import nats
import typer
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import APIError
from rich.console import Console

from contracts.subjects import COORDINATOR
from services.runtime.bus import ConfigurationError, RetryableError
from services.runtime.identity import Settings, operator_connection, server_list

__all__ = ["BusFailure", "asking_as", "fail", "operator_client", "run_on_bus"]

T = TypeVar("T")
errors_console = Console(stderr=True, soft_wrap=True)
CONNECT_TIMEOUT_S = 10.0


class BusFailure(Exception):
    """The bus could not be used; the message is the one line the operator reads."""


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    errors_console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code=code)


def asking_as(requester: str) -> str | None:
    """Who connects to ask as ``requester``: the operator asks as the coordinator (None);
    any other agency only with its own key."""
    return None if requester == COORDINATOR else requester


def _first(errors: list[str], fragment: str) -> str | None:
    return next((e for e in errors if fragment in e.lower()), None)


@asynccontextmanager
async def operator_client(
    settings: Settings, *, name: str, as_agency: str | None = None
) -> AsyncIterator[Client]:
    """A client on the bus as the operator (or as ``as_agency``, with that agency's key)."""
    nats_url, connection = operator_connection(settings, as_agency)
    who = f"{connection.agency_id} ({connection.seed_file or 'no credentials'})"
    errors: list[str] = []

    async def record(error: Exception) -> None:
        errors.append(str(error) or type(error).__name__)

    try:
        nc = await asyncio.wait_for(
            nats.connect(
                server_list(nats_url),
                name=name,
                connect_timeout=3,
                allow_reconnect=False,
                max_reconnect_attempts=1,  # 0 makes nats-py 2.16 retry forever
                error_cb=record,
                **connection.nats_options(),
            ),
            CONNECT_TIMEOUT_S,
        )
    except Exception as exc:
        refused = _first(errors, "authorization")
        if refused is not None:
            raise BusFailure(f"the bus at {nats_url} refused {who}: {refused}") from None
        reason = errors[0] if errors else repr(exc)
        raise BusFailure(
            f"cannot reach the bus at {nats_url} ({reason}); "
            "is `ipbus up` running with this IPBUS_DATA_DIR?"
        ) from None
    try:
        yield nc
    except (NatsTimeout, NoRespondersError, APIError, NatsError, RetryableError) as exc:
        await asyncio.sleep(0.1)  # a permissions violation arrives asynchronously
        denied = _first(errors, "permissions violation")
        if denied is not None:
            raise BusFailure(f"the bus at {nats_url} does not allow {who}: {denied}") from None
        raise BusFailure(f"the bus at {nats_url} did not answer: {exc!r}") from None
    finally:
        await nc.close()


def run_on_bus(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; any failure to use the bus becomes one line and exit 2."""
    try:
        return asyncio.run(coroutine)
    except (BusFailure, ConfigurationError, RetryableError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise typer.Exit(code=130) from None
