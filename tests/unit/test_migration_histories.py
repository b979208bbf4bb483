"""Which tables each migration history covers: none left out, none counted twice."""

import re
from pathlib import Path

from services.cli.catalogue import CATALOGUE
from services.runtime.storage import RuntimeTable, migrations

ROOT = Path(migrations.__file__).parents[4]


def test_every_module_declaring_a_runtime_table_is_loaded_for_the_runtime_history() -> None:
    declaring = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "services").rglob("*.py")
        if re.search(r"\(RuntimeTable, table=True\)", path.read_text(encoding="utf-8"))
    }

    assert declaring
    assert declaring <= set(migrations.RUNTIME_TABLE_MODULES)


def test_each_service_schema_is_the_runtime_branch_plus_its_own() -> None:
    labels = {
        cls.service_name: [h.label for h in migrations.histories(cls.tables)]
        for cls in CATALOGUE.values()
    }

    assert labels == {
        "coordinator": ["runtime", "coordinator"],
        "customs": ["runtime", "customs"],
        "enforcement": ["runtime"],
        "judicial": ["runtime"],
        "overseas": ["runtime"],
        "holders": ["runtime", "holders"],
    }
    assert set(migrations.runtime_history().metadata.tables) == set(RuntimeTable.metadata.tables)


def test_every_branch_starts_at_its_baseline_and_has_one_head() -> None:
    for cls in CATALOGUE.values():
        for revision in migrations.schema_revisions(cls.tables):
            label, number = revision.rsplit("_", 1)
            assert int(number) >= int(migrations.BASELINE), revision
            assert label in {"runtime", "coordinator", "customs", "holders"}
        assert len(migrations.schema_revisions(cls.tables)) == 1 + len(cls.tables)
