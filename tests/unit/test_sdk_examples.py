"""The examples in the adapter SDK's docstrings (and the settings' and turns') run and show
what they say."""

import doctest
from types import ModuleType

import pytest

from contracts import compatibility
from services.gateway import app as gateway
from services.gateway import inbox as gateway_inbox
from services.gateway import problems as gateway_problems
from services.gateway import tokens as gateway_tokens
from services.gateway import webhook_receiver as gateway_webhook_receiver
from services.runtime.bus import consumer, turns
from services.runtime.identity import settings
from services.sdk import discovery
from services.sdk import service as adapter

MODULES = [
    adapter,
    consumer,
    discovery,
    gateway,
    gateway_inbox,
    gateway_problems,
    gateway_tokens,
    gateway_webhook_receiver,
    compatibility,
    settings,
    turns,
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_the_docstring_examples_run(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
