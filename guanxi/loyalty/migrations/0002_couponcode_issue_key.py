from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="couponcode",
            name="issue_key",
            field=models.CharField(blank=True, default="", max_length=120),
        ),
        migrations.AddConstraint(
            model_name="couponcode",
            constraint=models.UniqueConstraint(
                condition=models.Q(("issue_key", ""), _negated=True),
                fields=("issue_key", "customer"),
                name="loyalty_coupon_issue_key_unique",
            ),
        ),
    ]
