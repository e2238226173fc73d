"""Order lines lose their database foreign key to orders (ADR 0009).

PostgreSQL drops the constraint. SQLite keeps it in the table's definition until some later
migration rebuilds the table: removing it means copying every line into a new table (minutes
at ten million lines), and an import on SQLite is within its budget with it.
"""

import django.db.models.deletion
from django.db import migrations, models

CONSTRAINT = "commerce_orderline_order_id_678fed48_fk_commerce_order_id"


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'ALTER TABLE "commerce_orderline" DROP CONSTRAINT IF EXISTS "{CONSTRAINT}"')


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'ALTER TABLE "commerce_orderline" ADD CONSTRAINT "{CONSTRAINT}" FOREIGN KEY ("order_id") '
            'REFERENCES "commerce_order" ("id") DEFERRABLE INITIALLY DEFERRED'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0006_drop_covered_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_constraint, add_constraint)],
            state_operations=[
                migrations.AlterField(
                    model_name="orderline",
                    name="order",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="lines",
                        to="commerce.order",
                    ),
                ),
            ],
        ),
    ]
