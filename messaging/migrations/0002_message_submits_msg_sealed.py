# Review 8.14 (attempts that reached the provider) and 8.22 (an index for the sweep's tidy-up).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="submits",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("sealed", ""), _negated=True), fields=["status", "updated_at"], name="msg_sealed"
            ),
        ),
    ]
