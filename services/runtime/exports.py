"""Lazy public APIs (PEP 562): a package names what it offers, each name loads on first use.

A package's ``__init__`` imports the names under ``TYPE_CHECKING`` (for type checkers) and
maps each to its module; loading lazily means a module that imports a sibling module never
waits for the whole package, so packages that use each other cannot form import cycles.
"""

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose public ``exports`` map each
    name to the module defining it."""
    namespace = import_module(package).__dict__

    def load(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(import_module(module), name)
        namespace[name] = value  # the next lookup is a plain attribute
        return value

    def names() -> list[str]:
        return sorted(exports)

    return load, names
