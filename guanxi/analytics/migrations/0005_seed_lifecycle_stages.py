"""Seed 002's lifecycle stages: new → exploration (考察期), exploration and formation → development (发展期)."""

from django.db import migrations, models

# Old value → new value. Exploration moves first in SQL order, so "new" rows become exploration after.
RENAMED = (("exploration", "development"), ("formation", "development"), ("new", "exploration"))


def forwards(apps, schema_editor):
    metric = apps.get_model("analytics", "CustomerMetric")
    for old, new in RENAMED:
        metric.objects.filter(lifecycle_stage=old).update(lifecycle_stage=new)


def backwards(apps, schema_editor):
    # Development cannot be split back into exploration and formation; exploration becomes "new".
    metric = apps.get_model("analytics", "CustomerMetric")
    metric.objects.filter(lifecycle_stage="exploration").update(lifecycle_stage="new")
    metric.objects.filter(lifecycle_stage="development").update(lifecycle_stage="formation")


class Migration(migrations.Migration):
    dependencies = [("analytics", "0004_segment_indexes")]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.AlterField(
            model_name="customermetric",
            name="lifecycle_stage",
            field=models.CharField(
                blank=True,
                choices=[
                    ("exploration", "Exploration"),
                    ("development", "Development"),
                    ("stable", "Stable"),
                    ("decline", "Decline"),
                    ("lost", "Lost (end of decline)"),
                ],
                max_length=16,
                verbose_name="lifecycle stage",
            ),
        ),
    ]
