"""The bench's latency ends at the coordinator's commit: read from its "applied" lines."""

import json
from datetime import UTC, datetime
from pathlib import Path

from bench.processes import committed_at


def _line(**fields: object) -> str:
    return json.dumps(fields)


def test_commit_times_come_from_single_and_batch_lines_of_every_replica(tmp_path: Path) -> None:
    first, second = tmp_path / "c.0.log", tmp_path / "c.1.log"
    first.write_text(
        "\n".join(
            [
                _line(event="applied", event_id="A", timestamp="2026-12-01T03:00:00.001000Z"),
                _line(event="started", event_id="B", timestamp="2026-12-01T03:00:00.002000Z"),
                "not json at all",
                _line(
                    event="applied",
                    event_ids=["B", "C", "other"],
                    timestamp="2026-12-01T03:00:00.050000Z",
                ),
            ]
        )
    )
    second.write_text(
        _line(event="applied", event_ids=["D"], timestamp="2026-12-01T03:00:01.000000Z")
    )

    found = committed_at([first, second], ["A", "B", "C", "D", "E"])

    assert found == {
        "A": datetime(2026, 12, 1, 3, 0, 0, 1000, tzinfo=UTC),
        "B": datetime(2026, 12, 1, 3, 0, 0, 50000, tzinfo=UTC),
        "C": datetime(2026, 12, 1, 3, 0, 0, 50000, tzinfo=UTC),
        "D": datetime(2026, 12, 1, 3, 0, 1, tzinfo=UTC),
    }
