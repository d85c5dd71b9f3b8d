# Review 8.7: a webhook delivery keeps its HTTP status and a short fixed
# reason, never the answer's body. Dropping the column also deletes the
# excerpts stored before (answers of internal services reached by SSRF).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_message_submits_msg_sealed"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="webhookattempt",
            name="response_excerpt",
        ),
    ]
