"""The ledger is append-only in the database too (Review 8.6).

``LedgerEntry.save()``/``delete()`` refuse changes, but a queryset
``update()``/``delete()`` or raw SQL would not ask them. On PostgreSQL a
row-level trigger refuses every UPDATE and DELETE of a ledger row, with one
exception: setting ``created_by_id`` to NULL and nothing else, which is what
``on_delete=SET_NULL`` does when the staff user who recorded an entry is
deleted (the money columns stay untouched).

TRUNCATE is not refused: it is not a row change an application makes by
accident (it needs the table owner's privilege, which a production role
should not hold), and ``manage.py flush`` and the test suite's transactional
tests truncate every table between tests. SQLite (``make run``) gets no
trigger: it is a development database, and the model guards still apply.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION billing_ledgerentry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.created_by_id IS NULL
       AND (to_jsonb(NEW) - 'created_by_id') = (to_jsonb(OLD) - 'created_by_id') THEN
        RETURN NEW;  -- on_delete=SET_NULL of the user who recorded the entry
    END IF;
    RAISE EXCEPTION 'billing_ledgerentry is append-only: % of entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'restrict_violation',
              HINT = 'Record a new ledger entry (an adjustment or a reversal) instead.';
END;
$$;
DROP TRIGGER IF EXISTS billing_ledgerentry_append_only ON billing_ledgerentry;
CREATE TRIGGER billing_ledgerentry_append_only
    BEFORE UPDATE OR DELETE ON billing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION billing_ledgerentry_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS billing_ledgerentry_append_only ON billing_ledgerentry;
DROP FUNCTION IF EXISTS billing_ledgerentry_append_only();
"""


def _on_postgresql(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # no placeholders: the % are PL/pgSQL's

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_load_price_list_2023_11_01"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
    ]
