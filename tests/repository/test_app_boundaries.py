"""Apps reach each other's models by import, where the import-linter contracts can see them."""

from pathlib import Path

import guanxi

PACKAGE = Path(guanxi.__file__).parent


def test_no_app_looks_up_another_apps_model_by_name_outside_migrations():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts
        and "tests" not in path.parts
        and "apps.get_model(" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
