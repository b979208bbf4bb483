"""Services as separate OS processes: start, ``kill -9``, start again.

Each service runs as ``ipbus run SERVICE --agency ID`` (the load agency as
``python -m tests.reliability.load_agency``), with the same ``IPBUS_*`` environment a
deployment would give it; only the data directory (keys, registry, SQLite files) is shared.
"""

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from services.runtime.identity import Settings

__all__ = ["Fleet", "ServiceProcess", "environment"]

BIN = Path(sys.prefix) / "bin"


def environment(settings: Settings, nats_url: str) -> dict[str, str]:
    """The ``IPBUS_*`` variables that make a child process see ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBUS_")}
    env.update(
        IPBUS_ENV="development",  # an open test server: `ipbus run` is production otherwise
        IPBUS_NATS_URL=nats_url,
        IPBUS_DATA_DIR=str(settings.data_dir),
        IPBUS_REGISTRY_PATH=str(settings.registry_path),
        IPBUS_DATABASE_SCHEMA_PREFIX=settings.database_schema_prefix,
        IPBUS_OUTBOX_POLL_SECONDS=str(settings.outbox_poll_seconds),
        IPBUS_STREAM_REPLICAS=str(settings.stream_replicas),
        IPBUS_LOG_FORMAT="json",
        IPBUS_LOG_LEVEL="WARNING",
        IPBUS_HTTP_PORT="0",  # several services on one host: no /metrics port to fight over
    )
    if settings.database_url is not None:
        env["IPBUS_DATABASE_URL"] = settings.database_url
    return env


@dataclass
class ServiceProcess:
    """One service process; ``kill`` is SIGKILL (a crash), ``stop`` is SIGTERM."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_file: Path
    starts: int = 0
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1

    @property
    def exited(self) -> bool:
        """Started, and gone without being killed or stopped by the test."""
        return self._process is not None and self._process.poll() is not None

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs, whatever was in flight is cut off."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
            self._process = None

    def tail(self, lines: int = 15) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Fleet:
    """The processes of one scenario, by name."""

    settings: Settings
    nats_url: str
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def service(
        self, service: str, agency: str, *, replica: int = 0, log_level: str = "WARNING"
    ) -> ServiceProcess:
        name = agency if replica == 0 else f"{agency}#{replica}"
        process = self._add(name, [str(BIN / "ipbus"), "run", service, "--agency", agency])
        process.env["IPBUS_LOG_LEVEL"] = log_level
        return process

    def load_agency(self, agency: str, to: str, cases_file: Path) -> ServiceProcess:
        args = [sys.executable, "-m", "tests.reliability.load_agency"]
        args += ["--agency", agency, "--to", to, "--cases", str(cases_file)]
        return self._add(agency, args)

    def _add(self, name: str, args: list[str]) -> ServiceProcess:
        process = ServiceProcess(
            name,
            args,
            environment(self.settings, self.nats_url),
            self.settings.data_dir / "logs" / f"{name}.log",
        )
        self.processes[name] = process
        return process

    def start_all(self) -> None:
        for process in self.processes.values():
            process.start()

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.stop()

    def check_alive(self) -> None:
        """Fail with the dead process's last log lines if one exited on its own."""
        for process in self.processes.values():
            if process.exited:
                raise AssertionError(f"{process.name} exited on its own:\n{process.tail()}")
