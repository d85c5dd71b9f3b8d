"""Email a staff member a link to enrol an authenticator app (review 8.13)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from otpportal.commands import in_english
from otpportal.errors import ServiceError
from otpportal.staff2fa import INVITE_MAX_AGE, staff_2fa_invite


class Command(BaseCommand):
    help = "Email a staff member a single-use link to enrol an authenticator app for /admin/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument(
            "--reset", action="store_true", help="remove the member's enrolled app first (a lost or new phone)"
        )

    @in_english  # Review 8.19: all it prints is English
    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None:
            raise CommandError(f"No user with email {options['email']!r}.")
        try:
            staff_2fa_invite(user=user, reset=options["reset"])
        except ServiceError as error:
            raise CommandError(error.message) from None
        hours = int(INVITE_MAX_AGE.total_seconds() // 3600)
        self.stdout.write(f"Enrolment link emailed to {user.email}; it works once, for {hours} hours.")
