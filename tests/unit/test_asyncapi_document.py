"""docs/asyncapi.yaml as the official parser (``@asyncapi/parser``) reads it: every message
has a payload schema, the servers are production's only, the correlation id is in the payload."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.cli.specs import ASYNCAPI_PATH
from services.sdk import PRODUCTION_SERVERS
from services.sdk.asyncapi import _typed
from tests.unit.test_specs_check import REPO, _need_parser


@pytest.fixture(scope="module")
def parsed() -> dict[str, Any]:
    _need_parser()
    run = subprocess.run(
        ["node", "tools/asyncapi/messages.mjs", ASYNCAPI_PATH],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    document: dict[str, Any] = json.loads(run.stdout)
    return document


def test_every_message_has_a_non_empty_payload_schema(parsed: dict[str, Any]) -> None:
    messages = parsed["messages"]
    assert len(messages) > 40  # one per v1 event type, per consumer, per query
    empty = [
        m["id"]
        for m in messages
        if not m["payload"] or not (m["payload"]["properties"] or m["payload"]["oneOf"])
    ]
    assert empty == []


def test_an_event_message_carries_the_envelope_with_its_typed_data(
    parsed: dict[str, Any],
) -> None:
    [issued] = [m for m in parsed["messages"] if m["id"] == "ipbus.referral.issued.v1:Message"]
    assert {"specversion", "id", "source", "type", "correlationid", "signature", "data"} <= set(
        issued["payload"]["properties"]
    )


def test_a_consumer_reads_any_v1_event(parsed: dict[str, Any]) -> None:
    events = sum(1 for m in parsed["messages"] if m["id"].startswith("ipbus."))
    consumers = [m for m in parsed["messages"] if m["id"].startswith("agency-")]
    assert consumers
    assert {m["payload"]["oneOf"] for m in consumers} == {events}


def test_a_query_message_is_the_query_model(parsed: dict[str, Any]) -> None:
    [case_query] = [m for m in parsed["messages"] if m["id"] == "case queries:SubscribeMessage"]
    assert case_query["payload"]["properties"] == ["case_id"]


def test_the_correlation_id_is_the_envelopes_correlationid(parsed: dict[str, Any]) -> None:
    located = {m["correlationId"] for m in parsed["messages"] if "queries" not in m["id"]}
    assert located == {"$message.payload#/correlationid"}


def test_only_production_servers_are_named(parsed: dict[str, Any]) -> None:
    assert parsed["servers"] == [{"id": "production", "host": "nats:4222"}]
    assert {s for c in parsed["channels"] for s in c["servers"]} == set(PRODUCTION_SERVERS)
    text = (Path(REPO) / ASYNCAPI_PATH).read_text()
    assert "localhost" not in text
    assert "127.0.0.1" not in text


def test_a_subscriber_no_contract_describes_is_refused() -> None:
    document = {
        "channels": {"odd": {"address": "ipbus.odd.>", "messages": {"M": {"$ref": "#/x/odd:M"}}}},
        "components": {
            "messages": {"odd:M": {"payload": {"$ref": "#/components/schemas/EmptyPayload"}}}
        },
    }
    with pytest.raises(ValueError, match="no contract describes"):
        _typed(document)


def test_make_lint_refuses_a_message_without_a_payload_schema(tmp_path: Path) -> None:
    _need_parser()
    document = yaml.safe_load((REPO / ASYNCAPI_PATH).read_text())
    document["components"]["schemas"]["EmptyPayload"] = {"title": "EmptyPayload", "type": "null"}
    [message] = [m for n, m in document["components"]["messages"].items() if "case queries" in n]
    message["payload"] = {"$ref": "#/components/schemas/EmptyPayload"}
    path = tmp_path / "asyncapi.yaml"
    path.write_text(yaml.safe_dump(document))
    run = subprocess.run(
        ["node", str(REPO / "tools/asyncapi/validate.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "no-payload: message case queries:SubscribeMessage" in run.stdout
