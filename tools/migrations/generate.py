"""Autogenerate one revision per branch, against an empty SQLite database.

    baseline: cd <a checkout of 1094b57> && python <this file> baseline <ipbus worktree>
    next:     python tools/migrations/generate.py next <ipbus worktree> <rev> "<message>"

The baseline (``<label>_0001``) is generated from the previous release's own models, run
from its checkout (its ``services`` package comes first on sys.path); ``next`` migrates a
database to the branch's head and autogenerates the difference to today's models. Both
are reviewed by hand before commit (``ipbus db revision`` is the everyday way).
"""

import importlib
import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, create_engine

TABLE_MODULES = [
    "services.coordinator.app",
    "services.customs.app",
    "services.sdk.agency_adapter",
    "services.gateway.inbox",
    "services.runtime.bus.inbox",
    "services.runtime.privacy.minimisation_log",
    "services.runtime.bus.outbox",
    "services.sdk.referral_desk",
    "services.sdk.warning_desk",
]
FLAT_RUNTIME_TABLE_MODULES = [  # a checkout from before the runtime had sub-packages
    "services.coordinator.app",
    "services.customs.app",
    "services.runtime.agency_adapter",
    "services.runtime.gateway_inbox",
    "services.runtime.inbox",
    "services.runtime.minimisation_log",
    "services.runtime.outbox",
    "services.runtime.referral_desk",
    "services.runtime.warning_desk",
]


def branches(worktree: Path) -> dict[str, tuple[Path, MetaData]]:
    sys.path.insert(0, os.getcwd())
    flat = Path("services/runtime/database.py").exists()
    for module in FLAT_RUNTIME_TABLE_MODULES if flat else TABLE_MODULES:
        importlib.import_module(module)
    from services.coordinator.store import CoordinatorTable
    from services.customs.store import CustomsTable

    database = "services.runtime.database" if flat else "services.runtime.storage.database"
    RuntimeTable = importlib.import_module(database).RuntimeTable

    return {
        "runtime": (
            worktree / "services/runtime/storage/migrations/versions",
            RuntimeTable.metadata,
        ),
        "coordinator": (worktree / "services/coordinator/migrations", CoordinatorTable.metadata),
        "customs": (worktree / "services/customs/migrations", CustomsTable.metadata),
    }


def config(worktree: Path, versions: Path, metadata: MetaData, connection: object) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(worktree / "services/runtime/storage/migrations"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(versions))
    cfg.attributes["connection"] = connection
    cfg.attributes["target_metadata"] = metadata
    return cfg


def main() -> None:
    mode, worktree = sys.argv[1], Path(sys.argv[2]).resolve()
    for label, (versions, metadata) in branches(worktree).items():
        engine = create_engine("sqlite://")
        with engine.begin() as conn:
            cfg = config(worktree, versions, metadata, conn)
            if mode == "baseline":
                command.revision(
                    cfg,
                    message="baseline: the schema as the last release before migrations left it",
                    autogenerate=True,
                    head="base",
                    branch_label=label,
                    rev_id=f"{label}_0001",
                    version_path=str(versions),
                )
            else:
                rev, message = sys.argv[3], sys.argv[4]
                command.upgrade(cfg, "heads")
                command.revision(
                    cfg,
                    message=message,
                    autogenerate=True,
                    head=f"{label}@head",
                    rev_id=f"{label}_{rev}",
                    version_path=str(versions),
                )


if __name__ == "__main__":
    main()
