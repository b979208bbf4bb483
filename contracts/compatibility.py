"""Is a new version of a v1 contract still compatible with the committed one? Pure checks.

A v1 type may only grow: new optional fields, wider types, more enum values. A change is
*breaking* when a message valid under the old schema may be refused, or a reader loses what
it relied on:

* ``removed_field`` — a property of the old schema is gone;
* ``narrowed_type`` — a type, enum, bound, pattern or format accepts less than before;
* ``new_required_field`` — a property is required that was not (old senders omit it);
* ``removed_contract`` — a whole v1 schema disappeared.

>>> old = {"type": "object", "properties": {"a": {"type": "string"}}, "required": []}
>>> new = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
>>> [str(b) for b in breaking_changes(old, new)]
['a: narrowed_type: type string became integer', 'a: new_required_field: a is now required']
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Break", "BreakKind", "breaking_changes", "catalogue_breaks"]

_LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_EXACT = ("pattern", "format", "multipleOf")


class BreakKind(StrEnum):
    REMOVED_FIELD = "removed_field"
    NARROWED_TYPE = "narrowed_type"
    NEW_REQUIRED_FIELD = "new_required_field"
    REMOVED_CONTRACT = "removed_contract"


@dataclass(frozen=True)
class Break:
    """One incompatible change, at ``path`` (dotted field path; ``[]`` for array items)."""

    path: str
    kind: BreakKind
    detail: str

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.kind.value}: {self.detail}"


def catalogue_breaks(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[Break]]:
    """Breaking changes per contract file between two catalogues of schemas."""
    found: dict[str, list[Break]] = {}
    for name, old_schema in old.items():
        if name not in new:
            found[name] = [Break("", BreakKind.REMOVED_CONTRACT, f"{name} no longer exists")]
            continue
        breaks = breaking_changes(old_schema, new[name])
        if breaks:
            found[name] = breaks
    return found


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Break]:
    """Every way ``new`` refuses or drops what ``old`` allowed (empty: compatible)."""
    return _Comparison(old, new).compare(old, new, "")


class _Comparison:
    def __init__(self, old_root: Mapping[str, Any], new_root: Mapping[str, Any]) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.seen: set[tuple[int, int]] = set()

    def compare(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[Break]:
        old = _resolve(old, self.old_root)
        new = _resolve(new, self.new_root)
        key = (id(old), id(new))
        if key in self.seen:  # recursive schemas: each pair once
            return []
        self.seen.add(key)
        try:
            olds = _alternatives(old, self.old_root)
            news = _alternatives(new, self.new_root)
            if len(olds) == 1 and len(news) == 1:
                return self._single(olds[0], news[0], path)
            breaks: list[Break] = []
            for alternative in olds:
                tries: list[list[Break]] = [self._single(alternative, n, path) for n in news]
                if all(tries):  # no new alternative takes this old one whole
                    closest: list[Break] = min(tries, key=len)
                    breaks.extend(closest)
            return breaks
        finally:
            self.seen.discard(key)

    def _single(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[Break]:
        breaks = _narrowing(old, new, path)
        if _is_object(old) or _is_object(new):
            breaks.extend(self._object(old, new, path))
        if "items" in old or "items" in new:
            old_items = old.get("items", {})
            new_items = new.get("items", {})
            if isinstance(old_items, Mapping) and isinstance(new_items, Mapping):
                breaks.extend(self.compare(old_items, new_items, f"{path}[]"))
        return breaks

    def _object(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[Break]:
        breaks: list[Break] = []
        old_props = old.get("properties", {})
        new_props = new.get("properties", {})
        for name, old_field in old_props.items():
            where = f"{path}.{name}" if path else name
            if name not in new_props:
                breaks.append(Break(where, BreakKind.REMOVED_FIELD, f"{name} was removed"))
            else:
                breaks.extend(self.compare(old_field, new_props[name], where))
        for name in sorted(set(new.get("required", ())) - set(old.get("required", ()))):
            where = f"{path}.{name}" if path else name
            breaks.append(Break(where, BreakKind.NEW_REQUIRED_FIELD, f"{name} is now required"))
        closed_now = new.get("additionalProperties") is False
        if closed_now and old.get("additionalProperties") is not False:
            breaks.append(
                Break(path, BreakKind.NARROWED_TYPE, "additional properties are now refused")
            )
        return breaks


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    hops = 0
    while "$ref" in schema and hops < 32:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            break
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **extra}
        hops += 1
    return schema


def _alternatives(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for key in ("anyOf", "oneOf"):
        if key in schema:
            found: list[Mapping[str, Any]] = []
            for alternative in schema[key]:
                found.extend(_alternatives(_resolve(alternative, root), root))
            return found
    return [schema]


def _is_object(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "object" or "properties" in schema


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    types = {declared} if isinstance(declared, str) else set(declared)
    if "number" in types:
        types.add("integer")
    return types


def _values(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _narrowing(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[Break]:
    breaks: list[Break] = []

    def narrowed(detail: str) -> None:
        breaks.append(Break(path, BreakKind.NARROWED_TYPE, detail))

    old_types, new_types = _types(old), _types(new)
    if new_types is not None:
        if old_types is None:
            narrowed(f"any type became {_names(new_types)}")
        elif not old_types <= new_types:
            narrowed(f"type {_names(old_types)} became {_names(new_types)}")
    new_values, old_values = _values(new), _values(old)
    if new_values is not None:
        if old_values is None:
            narrowed(f"now limited to {new_values}")
        else:
            lost = [v for v in old_values if v not in new_values]
            if lost:
                narrowed(f"values no longer accepted: {lost}")
    for bound in _LOWER_BOUNDS:
        if bound in new and (bound not in old or new[bound] > old[bound]):
            narrowed(f"{bound} became {new[bound]} (was {old.get(bound, 'unset')})")
    for bound in _UPPER_BOUNDS:
        if bound in new and (bound not in old or new[bound] < old[bound]):
            narrowed(f"{bound} became {new[bound]} (was {old.get(bound, 'unset')})")
    for constraint in _EXACT:
        if constraint in new and new[constraint] != old.get(constraint):
            narrowed(f"{constraint} became {new[constraint]!r} (was {old.get(constraint)!r})")
    return breaks


def _names(types: set[str]) -> str:
    shown = sorted(types - {"integer"} if "number" in types else types)
    return "|".join(shown)
