"""Each package of the runtime, the SDK and the gateway says what it offers, and offers it."""

import ast
import importlib
from pathlib import Path

import pytest

PACKAGES = [
    "services.runtime.bus",
    "services.runtime.identity",
    "services.runtime.law",
    "services.runtime.ops",
    "services.runtime.privacy",
    "services.runtime.server",
    "services.runtime.storage",
    "services.sdk",
    "services.gateway",
]


def _typed_imports(package: str) -> dict[str, str]:
    """What the package's ``if TYPE_CHECKING:`` block imports, name → module."""
    source = Path(importlib.import_module(package).__file__ or "").read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for block in ast.parse(source).body:
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING":
            for node in block.body:
                assert isinstance(node, ast.ImportFrom), ast.unparse(node)
                found.update({alias.name: node.module or "" for alias in node.names})
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_the_names_a_type_checker_sees_are_the_names_the_package_loads(package: str) -> None:
    module = importlib.import_module(package)

    assert _typed_imports(package) == module._EXPORTS
    assert sorted(module.__all__) == sorted(module._EXPORTS)
    assert all(not name.startswith("_") for name in module.__all__)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_loads_from_where_it_is_defined(package: str) -> None:
    module = importlib.import_module(package)

    for name, where in module._EXPORTS.items():
        assert getattr(module, name) is getattr(importlib.import_module(where), name)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        module.not_a_name  # noqa: B018
