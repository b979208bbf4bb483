"""The examples in the adapter SDK's docstrings run and show what they say."""

import doctest
from types import ModuleType

import pytest

from contracts import compatibility
from services.runtime import (
    adapter,
    consumer,
    discovery,
    gateway,
    gateway_inbox,
    gateway_problems,
    gateway_tokens,
    gateway_webhook_receiver,
)

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
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_the_docstring_examples_run(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
