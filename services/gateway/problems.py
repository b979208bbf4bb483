"""Every refusal of the gateway as RFC 9457 problem details (``application/problem+json``).

A client acts on ``type``, one stable URI per reason (:data:`PROBLEM_TYPES`); ``detail`` says
what happened in words; a 422 lists the invalid fields under ``errors`` (``loc`` as FastAPI
gives it, e.g. ``["body", "data", "reason"]``). FastAPI's own exception handlers are
replaced, so an ``HTTPException`` raised anywhere (a dependency, the body limit) comes out
in this shape, and the OpenAPI document declares it for every refusal.

>>> problem_type("rate-limited")
'urn:ipbus:problem:rate-limited'
"""

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPES",
    "GatewayProblem",
    "Problem",
    "install_problem_details",
    "problem_response",
    "problem_type",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"

PROBLEM_TYPES: Mapping[str, tuple[int, str]] = {
    "invalid-request": (422, "The request is not valid"),
    "malformed-request": (400, "The request is malformed"),
    "unauthorized": (401, "A valid gateway token is required"),
    "forbidden": (403, "The token may not do this"),
    "not-found": (404, "No such resource"),
    "method-not-allowed": (405, "Method not allowed"),
    "step-refused": (409, "The case or referral does not allow this step now"),
    "idempotency-key-missing": (400, "An Idempotency-Key header is required"),
    "idempotency-key-in-flight": (409, "A request with this Idempotency-Key is in progress"),
    "idempotency-key-reused": (422, "This Idempotency-Key was used for another request"),
    "body-too-large": (413, "The request body is too large"),
    "rate-limited": (429, "Too many requests for this token"),
    "unavailable": (503, "The bus is unavailable; try again"),
}
"""Slug → (status, title). The ``type`` of a problem is ``urn:ipbus:problem:<slug>``."""

_BY_STATUS = {
    400: "malformed-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "step-refused",
    413: "body-too-large",
    422: "invalid-request",
    429: "rate-limited",
    503: "unavailable",
}


def problem_type(slug: str) -> str:
    return f"urn:ipbus:problem:{slug}"


class Problem(BaseModel):
    """RFC 9457 problem details: why a request was refused, and what kind of refusal it is."""

    type: str = Field(description="stable URI of the reason, `urn:ipbus:problem:<reason>`")
    title: str = Field(description="short summary of the reason (the same for every instance)")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what happened in this instance")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="with `invalid-request`: each invalid field (`loc`, `msg`)"
    )


class GatewayProblem(HTTPException):
    """An ``HTTPException`` naming its reason (a slug of :data:`PROBLEM_TYPES`)."""

    def __init__(self, slug: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(PROBLEM_TYPES[slug][0], detail, headers)
        self.slug = slug


def problem_response(
    slug: str,
    detail: str,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    code, title = PROBLEM_TYPES[slug]
    problem = Problem(
        type=problem_type(slug), title=title, status=status or code, detail=detail, errors=errors
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status or code,
        headers=dict(headers or {}),
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def _http_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = getattr(exc, "slug", None) or _BY_STATUS.get(exc.status_code, "malformed-request")
    return problem_response(
        slug, str(exc.detail), status=exc.status_code, headers=getattr(exc, "headers", None)
    )


def _validation_problem(
    tags: frozenset[str], explain: Callable[[str], str | None]
) -> Callable[[Request, Exception], Any]:
    """422 with the invalid fields; a union tag (the submission's ``type``) leaves ``loc``."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors: list[dict[str, Any]] = []
        for error in exc.errors():
            loc = list(error.get("loc", ()))
            if len(loc) > 1 and loc[0] == "body" and loc[1] in tags:
                loc = [loc[0], *loc[2:]]
            msg = str(error.get("msg", ""))
            kind = str(error.get("type", "value_error"))
            if kind in {"union_tag_invalid", "union_tag_not_found"}:
                loc = ["body", "type"]
                given = error.get("ctx", {}).get("tag") if error.get("ctx") else None
                reason = explain(str(given)) if given else None
                msg = f"type: {reason}" if reason else f"type: {msg}"
            elif not msg.startswith(".".join(str(p) for p in loc[1:])):
                msg = f"{'.'.join(str(p) for p in loc[1:]) or 'body'}: {msg}"
            errors.append({"loc": loc, "msg": msg, "type": kind})
        detail = "; ".join(str(e["msg"]) for e in errors) or "the request is not valid"
        return problem_response("invalid-request", detail, errors=errors)

    return handle


def install_problem_details(
    app: FastAPI,
    *,
    tags: frozenset[str] = frozenset(),
    explain: Callable[[str], str | None] = lambda tag: None,
) -> None:
    """Answer every refusal of ``app`` as problem details, and say so in its OpenAPI document.

    ``tags`` are the discriminator values of a body union (dropped from ``loc``); ``explain``
    turns a refused tag into the reason it is refused.
    """
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.add_exception_handler(RequestValidationError, _validation_problem(tags, explain))
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_document(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_document(document: dict[str, Any]) -> dict[str, Any]:
    """Every refusal's body as ``application/problem+json`` with the :class:`Problem` schema."""
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", Problem.model_json_schema(ref_template="{model}"))
    for path in document.get("paths", {}).values():
        for operation in path.values():
            for code, response in operation.get("responses", {}).items():
                if not str(code).startswith(("4", "5")):
                    continue
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document
