"""Drop single-column foreign key indexes that a composite index already leads with.

Only the indexes are dropped: the AlterFields change state only, since Django would otherwise
rebuild the whole table on SQLite and re-validate every foreign key on PostgreSQL, which takes
minutes on ten million order lines. Index names are Django's own, the same on both databases.
"""

import django.db.models.deletion
from django.db import migrations, models


COVERED_INDEXES = [
    ("commerce_order", "customer_id", "commerce_order_customer_id_9af2ddae"),
    ("commerce_order", "store_id", "commerce_order_store_id_f48d4b4e"),
    ("commerce_order", "unit_id", "commerce_order_unit_id_0da23566"),
    ("commerce_orderline", "order_id", "commerce_orderline_order_id_678fed48"),
    ("commerce_orderline", "product_id", "commerce_orderline_product_id_9af4f2f1"),
    ("commerce_return", "customer_id", "commerce_return_customer_id_0eb75314"),
    ("commerce_return", "unit_id", "commerce_return_unit_id_bc96554b"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("commerce", "0005_line_customer_index"),
        ("customers", "0005_suggestion_superseded"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for table, column, name in COVERED_INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="order",
                    name="customer",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="orders",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="order",
                    name="store",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="orders",
                        to="commerce.store",
                    ),
                ),
                migrations.AlterField(
                    model_name="order",
                    name="unit",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="orders",
                        to="accounts.businessunit",
                    ),
                ),
                migrations.AlterField(
                    model_name="orderline",
                    name="order",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="lines",
                        to="commerce.order",
                    ),
                ),
                migrations.AlterField(
                    model_name="orderline",
                    name="product",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="commerce.product",
                    ),
                ),
                migrations.AlterField(
                    model_name="return",
                    name="customer",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="returns",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="return",
                    name="unit",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="returns",
                        to="accounts.businessunit",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="orderline",
            index=models.Index(
                condition=models.Q(("product__isnull", False)), fields=["product"], name="order_line_product"
            ),
        ),
    ]
