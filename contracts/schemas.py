"""JSON Schemas of every payload, for agencies that do not run Python.

Generated from the models (never written by hand), keyed by the CloudEvents ``type`` an agency
sees on the wire. Validation-mode schemas: they describe what a receiver accepts.
"""

from typing import Any

from contracts.events import EVENT_MODELS, cloudevent_type

__all__ = ["SCHEMA_DIALECT", "json_schemas"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema (draft 2020-12) per event type, keyed by CloudEvents type."""
    schemas: dict[str, dict[str, Any]] = {}
    for event_type, model in sorted(EVENT_MODELS.items()):
        schema = model.model_json_schema(mode="validation")
        schema = {"$schema": SCHEMA_DIALECT, "$id": cloudevent_type(event_type), **schema}
        schemas[cloudevent_type(event_type)] = schema
    return schemas
