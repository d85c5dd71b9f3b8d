"""Customers (tenants), users and their memberships, API keys."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address (dashboard or admin)."""

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Customer(models.Model):
    """A business that buys OTP messages: the tenant every owned row points at."""

    class Mode(models.TextChoices):
        PREPAID = "prepaid", _("Prepaid")
        POSTPAID = "postpaid", _("Postpaid")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        TERMINATED = "terminated", _("Terminated")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    npwp = models.CharField(_("NPWP (tax id)"), max_length=32, blank=True)
    billing_email = models.EmailField(_("billing email"))
    postal_address = models.TextField(_("postal address"), blank=True)
    brand_name = models.CharField(
        _("brand name"), max_length=40, blank=True, help_text=_("Shown in OTP messages; defaults to the name.")
    )
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices, default=Mode.PREPAID)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.ACTIVE)
    require_two_factor = models.BooleanField(
        _("two-factor sign-in required"),
        default=False,
        db_default=False,  # rows written outside the ORM (bulk loads) get it too
        help_text=_("Every member must sign in with an authenticator app code (set by an owner)."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_brand(self) -> str:
        return self.brand_name or self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        DEVELOPER = "developer", _("Developer")
        BILLING = "billing", _("Billing")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.DEVELOPER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "customer"], name="membership_unique_user_customer")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.customer} ({self.role})"


class ApiKey(models.Model):
    """An integrator's key. Only its SHA-256 is stored; the clear key is shown once."""

    class Mode(models.TextChoices):
        LIVE = "live", _("Live")
        TEST = "test", _("Test")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100, blank=True)
    mode = models.CharField(_("mode"), max_length=4, choices=Mode.choices, default=Mode.LIVE)
    prefix = models.CharField(_("prefix"), max_length=24, help_text=_("The visible start of the key."))
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.mode})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_test(self) -> bool:
        return self.mode == self.Mode.TEST


class IdempotencyRecord(models.Model):
    """``Idempotency-Key`` (api-contract "Basics"): same key + body within 24 h
    replays the first response; another body is a 409."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "messaging_idempotencyrecord"  # moved from messaging with its table (no data copied)
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["customer", "key"], name="idempotency_unique_key")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_age")]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.key}"


class Invitation(models.Model):
    """An owner's invitation to join a customer with a role. Only the SHA-256
    of its single-use token is stored; the clear token is in the emailed link."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=10, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    canceled_at = models.DateTimeField(_("canceled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "email"], name="invitation_customer_email")]

    def __str__(self) -> str:
        return f"{self.email} → {self.customer} ({self.role})"

    def is_open(self, now: Any = None) -> bool:
        """Not accepted, not canceled, not expired."""
        now = now or timezone.now()
        return self.accepted_at is None and self.canceled_at is None and self.expires_at > now


class ActivityEvent(models.Model):
    """One line of a customer's activity log: a sign-in or a sensitive action,
    who did it (a snapshot of the email or the API key's prefix, kept when the
    user leaves), on what, from which address. Written by
    ``accounts.services.activity_record`` only; shown to owners."""

    class Action(models.TextChoices):
        SIGN_IN = "sign_in", _("Signed in")
        SIGN_IN_FAILED = "sign_in_failed", _("Sign-in failed")
        TWO_FACTOR_PASSED = "two_factor_passed", _("Two-factor code accepted")
        TWO_FACTOR_FAILED = "two_factor_failed", _("Two-factor code refused")
        TWO_FACTOR_ON = "two_factor_on", _("Two-factor sign-in turned on")
        TWO_FACTOR_OFF = "two_factor_off", _("Two-factor sign-in turned off")
        RECOVERY_CODES = "recovery_codes", _("New recovery codes made")
        TEAM_TWO_FACTOR_ON = "team_two_factor_on", _("Two-factor sign-in required for the team")
        TEAM_TWO_FACTOR_OFF = "team_two_factor_off", _("Two-factor sign-in no longer required")
        PASSWORD_CHANGED = "password_changed", _("Password changed")
        KEY_CREATED = "key_created", _("API key created")
        KEY_REVOKED = "key_revoked", _("API key revoked")
        WEBHOOK_CREATED = "webhook_created", _("Webhook endpoint added")
        WEBHOOK_DELETED = "webhook_deleted", _("Webhook endpoint deleted")
        MEMBER_INVITED = "member_invited", _("Member invited")
        INVITATION_CANCELED = "invitation_canceled", _("Invitation canceled")
        MEMBER_JOINED = "member_joined", _("Member joined")
        ROLE_CHANGED = "role_changed", _("Role changed")
        MEMBER_REMOVED = "member_removed", _("Member removed")
        SENDER_ID_APPLIED = "sender_id_applied", _("Sender ID applied for")
        TOPUP_REQUESTED = "topup_requested", _("Top-up requested")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="activity")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(_("by"), max_length=254, blank=True)
    action = models.CharField(_("action"), max_length=24, choices=Action.choices)
    target = models.CharField(_("object"), max_length=200, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("activity event")
        verbose_name_plural = _("activity events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "-at", "-id"], name="activity_customer_at")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.action} {self.target} by {self.actor}"
