"""The operator's commands as a user runs them: ``ipbus up`` in one shell, the rest in
another, with nothing but the same data dir (issue 16, "the operator's commands just work").

Every command here is a subprocess; none may print a traceback.
"""

import asyncio
import base64
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.envelope import publish_subject
from contracts.identifiers import new_ulid
from contracts.subjects import COORDINATOR, parse_event_subject
from services.runtime.bus import (
    DEFAULT_PARTITIONS,
    coordinator_consumer_spec,
    coordinator_consumer_specs,
)
from services.runtime.identity import AgencyConnection, Settings, key_path, read_bus_record
from services.runtime.server import free_port
from tests.conftest import REPO
from tests.integration.test_dead_letters import _opened
from tests.integration.wire import publish, signed, to_coordinator

pytestmark = pytest.mark.integration

CUSTOMS = "customs-shanghai"
IPBUS = str(Path(sys.executable).with_name("ipbus"))
UP_TIMEOUT_S = 90.0
COORDINATOR_DURABLES = tuple(
    spec.durable
    for spec in coordinator_consumer_specs(coordinator_consumer_spec(), DEFAULT_PARTITIONS)
)
"""``coordinator-p0`` …: the coordinator reads one consumer per partition of ``ipbus up``."""


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A shell with no IPBUS_* but the data dir (and ``extra``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBUS_")}
    return env | {"IPBUS_DATA_DIR": str(data_dir), "COLUMNS": "200"} | extra


@dataclass
class Ran:
    code: int
    out: str
    err: str


async def ipbus(data_dir: Path, *args: str, **extra: str) -> Ran:
    process = await asyncio.create_subprocess_exec(
        IPBUS,
        *args,
        cwd=REPO,
        env=_env(data_dir, **extra),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return Ran(process.returncode or 0, out.decode(), err.decode())


@dataclass
class Up:
    data_dir: Path
    process: asyncio.subprocess.Process

    async def stop(self) -> int:
        """Ctrl-C, as the user stops it; its exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                self.process.kill()
        return await self.process.wait()


@pytest.fixture
async def up(tmp_path: Path) -> AsyncIterator[Up]:
    """``ipbus up`` with its own data dir, HTTP off, no IPBUS_NATS_URL."""
    data_dir = tmp_path / "var"
    log = (tmp_path / "up.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        IPBUS,
        "up",
        cwd=REPO,
        env=_env(data_dir, IPBUS_HTTP_PORT="0"),
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        deadline = asyncio.get_running_loop().time() + UP_TIMEOUT_S
        while "Ctrl-C" not in (tmp_path / "up.log").read_text(errors="replace"):
            assert process.returncode is None, (tmp_path / "up.log").read_text()[-2000:]
            assert asyncio.get_running_loop().time() < deadline, "ipbus up never came up"
            await asyncio.sleep(0.25)
        running = Up(data_dir, process)
        yield running
    finally:
        await Up(data_dir, process).stop()
        log.close()


async def _open_a_case(data_dir: Path) -> str:
    """Customs opens a case with its own key, as its service would."""
    settings = Settings(data_dir=data_dir)
    record = read_bus_record(settings)
    assert record is not None
    customs = await AgencyConnection(
        CUSTOMS, seed_file=key_path(settings.keys_dir, CUSTOMS)
    ).connect(record.nats_url, name="test-customs")
    try:
        opened = signed(settings, CUSTOMS, _opened(), case_id=new_ulid())
        await publish(customs, publish_subject(opened, COORDINATOR), opened)
        return opened.subject or ""
    finally:
        await customs.close()


COMMANDS: tuple[tuple[str, ...], ...] = (
    ("status",),
    ("warnings",),
    ("referrals", "--overdue"),
    ("dlq", "list"),
)


@pytest.mark.timeout(240)
async def test_the_operator_commands_work_against_ipbus_up_and_fail_in_one_line_after(
    up: Up,
) -> None:
    data_dir = up.data_dir
    seed = key_path(data_dir / "keys", "operator")
    assert seed.stat().st_mode & 0o777 == 0o600
    assert (data_dir / "bus.json").stat().st_mode & 0o777 == 0o600
    case_id = await _open_a_case(data_dir)

    for command in COMMANDS:
        ran = await ipbus(data_dir, *command)
        assert ran.code == 0, (command, ran)
        assert "Traceback" not in ran.out + ran.err, (command, ran)
    ran = await ipbus(data_dir, "status")
    assert all(durable in ran.out for durable in COORDINATOR_DURABLES)  # its consumers' lag
    assert "dead letters on IPBUS_DLQ: 0" in ran.out

    async def shown() -> Ran:
        for _ in range(40):
            ran = await ipbus(data_dir, "case", "show", case_id)
            if ran.code == 0:
                return ran
            await asyncio.sleep(0.25)
        return ran

    ran = await shown()
    assert ran.code == 0, ran
    assert "Traceback" not in ran.out + ran.err
    assert case_id in ran.out

    # Without an agency's key, the operator may not ask as that agency.
    ran = await ipbus(data_dir, "case", "show", case_id, "--as", "no-such-agency")
    _one_line(ran, ("case", "show", "--as"), "does not allow operator")
    assert "ipbus.query.no-such-agency.case" in ran.err

    recorded = (data_dir / "bus.json").read_text()
    assert await up.stop() == 0
    assert not (data_dir / "bus.json").exists()  # a clean stop forgets it
    for command in (*COMMANDS, ("case", "show", case_id)):
        ran = await ipbus(data_dir, *command)
        _one_line(ran, command, "no bus is recorded")
    (data_dir / "bus.json").write_text(recorded)  # as a crashed `ipbus up` leaves it
    for command in (*COMMANDS, ("case", "show", case_id)):
        ran = await ipbus(data_dir, *command)
        _one_line(ran, command, "cannot reach the bus")


def _one_line(ran: Ran, command: tuple[str, ...], says: str) -> None:
    assert ran.code == 2, (command, ran)
    assert "Traceback" not in ran.out + ran.err, (command, ran)
    line = ran.err.strip()
    assert line.startswith("error: "), (command, ran)
    assert "\n" not in line, (command, ran)
    assert says in line, (command, ran)


@pytest.mark.timeout(120)
async def test_the_operator_commands_against_a_server_that_is_not_there(tmp_path: Path) -> None:
    dead = f"nats://127.0.0.1:{free_port()}"
    for command in (*COMMANDS, ("case", "show", new_ulid())):
        ran = await ipbus(tmp_path / "var", *command, IPBUS_NATS_URL=dead)
        _one_line(ran, command, "cannot reach the bus")


async def _json(data_dir: Path, *command: str, code: int = 0) -> Any:
    """Run ``ipbus COMMAND --json``: exactly one JSON document on stdout, no traceback."""
    ran = await ipbus(data_dir, *command, "--json")
    assert ran.code == code, (command, ran)
    assert "Traceback" not in ran.err, (command, ran)
    return json.loads(ran.out)  # the whole of stdout, or this fails


@pytest.mark.timeout(240)
async def test_the_read_commands_print_one_json_document_for_scripts(up: Up) -> None:
    data_dir = up.data_dir
    case_id = await _open_a_case(data_dir)
    settings = Settings(data_dir=data_dir)
    record = read_bus_record(settings)
    assert record is not None
    customs = await AgencyConnection(
        CUSTOMS, seed_file=key_path(settings.keys_dir, CUSTOMS)
    ).connect(record.nats_url, name="test-customs")
    garbage_subject = to_coordinator(CUSTOMS, "case.opened", new_ulid())
    try:
        await publish(customs, garbage_subject, b"\xff not an envelope")
    finally:
        await customs.close()

    async def until(check: Callable[[Any], bool], *command: str) -> Any:
        for _ in range(60):
            document = await _json(data_dir, *command)
            if check(document):
                return document
            await asyncio.sleep(0.25)
        raise AssertionError(f"{command}: never {check}; last {document}")

    letters = await until(lambda d: bool(d["dead_letters"]), "dlq", "list")
    # the original subject is as the stream stored it: with its partition token
    (letter,) = [
        x
        for x in letters["dead_letters"]
        if str(parse_event_subject(x["original_subject"])) == garbage_subject
    ]
    assert parse_event_subject(letter["original_subject"]).partition is not None
    assert letter["consumer"] == "coordinator"
    assert "body" not in letter
    assert "body_base64" not in letter
    shown = await _json(data_dir, "dlq", "show", str(letter["seq"]))
    assert shown["seq"] == letter["seq"]
    assert shown["reason"] == letter["reason"]
    assert base64.b64decode(shown["body_base64"]) == b"\xff not an envelope"
    assert (await _json(data_dir, "dlq", "show", "999999", code=1)) == {
        "error": "no dead letter 999999"
    }

    status = await _json(data_dir, "status")
    assert status["dead_letters"] >= 1
    assert set(COORDINATOR_DURABLES) <= {c["durable"] for c in status["consumers"]}
    assert status["problems"] == []
    assert status["http_url"] is None
    assert status["services"] is None

    case = await until(lambda d: d["case"] is not None, "case", "show", case_id)
    assert case["case"]["case_id"] == case_id
    assert case["error"] is None
    assert case["deadlines"] == []
    unknown = await _json(data_dir, "case", "show", new_ulid(), code=1)
    assert unknown["case"] is None
    assert unknown["error"]

    warnings = await _json(data_dir, "warnings", "--all")
    assert warnings["error"] is None
    assert warnings["warnings"] == []
    referrals = await _json(data_dir, "referrals", "--overdue")
    assert referrals["error"] is None
    assert referrals["deadlines"] == []
    policy = await _json(data_dir, "policy", "show")
    assert policy["rules"]
    assert "covered_years" in policy["calendar"]
