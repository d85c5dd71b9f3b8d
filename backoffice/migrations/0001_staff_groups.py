"""The staff roles as groups (``backoffice.roles``). Re-runnable: the
``post_migrate`` hook gives the groups exactly their permissions after
every migrate, including those of models added later."""

from django.db import migrations


def create_groups(apps, schema_editor):  # type: ignore[no-untyped-def]
    from backoffice.roles import create_all_permissions, sync_groups

    using = schema_editor.connection.alias
    create_all_permissions(apps=apps, using=using)
    sync_groups(apps=apps, using=using)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0002_idempotencyrecord"),
        ("billing", "0005_reconciliation_and_verbose_names"),
        ("senderids", "0002_verbose_names"),
        ("messaging", "0006_smpp_bind_status_created_index_verbose_names"),
        ("auditlog", "0017_add_actor_email"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
