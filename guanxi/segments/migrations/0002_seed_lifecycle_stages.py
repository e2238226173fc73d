"""Segment rules follow the renamed lifecycle stages (analytics 0005)."""

from django.db import migrations

RENAMED = {"exploration": "development", "formation": "development", "new": "exploration"}


def renamed(node):
    """The rule with every lifecycle_stage value renamed; other conditions untouched."""
    if isinstance(node, list):
        return [renamed(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") == "metric" and node.get("field") == "lifecycle_stage" and "value" in node:
        value = node["value"]
        value = (
            list(dict.fromkeys(RENAMED.get(v, v) for v in value))
            if isinstance(value, list)
            else RENAMED.get(value, value)
        )
        return {**node, "value": value}
    return {key: renamed(item) for key, item in node.items()}


def forwards(apps, schema_editor):
    segment = apps.get_model("segments", "Segment")
    for row in segment.objects.only("pk", "rule"):
        rule = renamed(row.rule)
        if rule != row.rule:
            segment.objects.filter(pk=row.pk).update(rule=rule)


class Migration(migrations.Migration):
    dependencies = [("segments", "0001_initial"), ("analytics", "0005_seed_lifecycle_stages")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
