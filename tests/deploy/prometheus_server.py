"""A real Prometheus server for tests: free port, temporary storage, fast scrapes."""

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.runtime.server import free_port

__all__ = ["prometheus_binary", "query", "running_prometheus"]


def prometheus_binary(name: str = "prometheus") -> str:
    """The Debian package's binary; CI installs it, so missing there is a failure."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (.ci/run installs Debian's prometheus)")
        pytest.skip(f"{name} is not installed (apt-get install prometheus)")
    return found


def _write_config(workdir: Path, config: dict[str, Any]) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")


@contextlib.asynccontextmanager
async def running_prometheus(
    workdir: Path, targets: list[str], rule_files: list[Path]
) -> AsyncIterator[httpx.AsyncClient]:
    """Prometheus scraping ``targets`` as job ``ipbus`` every second; yields an API client."""
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": "ipbus", "static_configs": [{"targets": targets}]},
        ],
    }
    _write_config(workdir, config)
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        prometheus_binary(),
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=log,
        stderr=log,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as api:
            await _until_ready(api, process, workdir)
            yield api
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def _until_ready(
    api: httpx.AsyncClient, process: asyncio.subprocess.Process, workdir: Path
) -> None:
    for _ in range(300):
        if process.returncode is not None:
            log = (workdir / "prometheus.log").read_text(errors="replace")
            raise AssertionError(f"prometheus exited {process.returncode}:\n{log[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            if (await api.get("/-/ready")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("prometheus did not become ready in 30 s")


async def query(api: httpx.AsyncClient, expr: str) -> dict[str, Any]:
    """The raw answer of an instant query (``status`` is ``success`` or ``error``)."""
    answer: dict[str, Any] = (await api.get("/api/v1/query", params={"query": expr})).json()
    return answer
