"""Every contract as a JSON Schema file: the baseline that contract evolution is checked against.

Payloads (one per CloudEvents type, from :func:`contracts.schemas.json_schemas`), the envelope,
a registry entry and the case query and its reply. Keys are paths under ``contracts/schemas/``;
the files there are generated from these models (``ipbus specs write``), never edited by hand.
"""

from typing import Any

from pydantic import BaseModel

from contracts.agencies import Agency
from contracts.envelope import Envelope
from contracts.queries import CaseQuery, CaseReply
from contracts.schemas import SCHEMA_DIALECT, json_schemas

__all__ = ["SCHEMA_FILES_DIR", "contract_schemas"]

SCHEMA_FILES_DIR = "contracts/schemas"
"""Where the generated files live, relative to the repository root."""

_OTHER_CONTRACTS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("envelope", Envelope),
    ("agency", Agency),
    ("case-query", CaseQuery),
    ("case-reply", CaseReply),
)


def contract_schemas() -> dict[str, dict[str, Any]]:
    """Relative file name → JSON Schema (draft 2020-12) for every v1 contract."""
    files = {f"events/{ce_type}.json": schema for ce_type, schema in json_schemas().items()}
    for name, model in _OTHER_CONTRACTS:
        schema = model.model_json_schema(mode="validation")
        files[f"{name}.v1.json"] = {"$schema": SCHEMA_DIALECT, "$id": f"ipbus.{name}.v1", **schema}
    return dict(sorted(files.items()))
