from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing import services
from otpportal.commands import in_english


class Command(BaseCommand):
    help = (
        "Prove that the ledger agrees with the balances for every customer (deposit book vs lots, "
        "guarantee book vs the guarantee held); exit 1 naming any that do not."
    )

    @in_english  # Review 8.19: all it prints is English
    def handle(self, *args: Any, **options: Any) -> None:
        mismatches = services.reconcile()
        if mismatches:
            for m in mismatches:
                self.stderr.write(
                    (
                        f"{m.customer_slug}: ledger {m.ledger_total} != lots {m.lots_total}"
                        if m.book == "deposit"
                        else f"{m.customer_slug}: guarantee ledger {m.ledger_total} != guarantee held {m.lots_total}"
                    )
                    + (f" (lots {', '.join(map(str, m.bad_lots))} disagree with their entries)" if m.bad_lots else "")
                )
            raise CommandError(
                f"{len(mismatches)} customer(s) do not reconcile: " + ", ".join(m.customer_slug for m in mismatches)
            )
        self.stdout.write("OK: ledger, lot balances and guarantees agree for every customer.")
