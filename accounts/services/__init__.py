"""Write use cases of accounts (style.md #1), split by topic: customers, API
keys, the team (members and invitations), sign-in security and the
activity log."""

from accounts.services.activity import activity_record, activity_record_for_member, client_address
from accounts.services.customers import customer_create, customer_set_mode, customer_set_status
from accounts.services.keys import CreatedKey, api_key_create, api_key_rename, api_key_revoke
from accounts.services.security import (
    customer_set_require_two_factor,
    recovery_codes_renew,
    two_factor_disable,
    two_factor_enable,
    two_factor_pending_device,
    two_factor_verify,
    user_set_password,
)
from accounts.services.team import (
    INVITATION_VALID_DAYS,
    CreatedInvitation,
    invitation_accept,
    invitation_cancel,
    invitation_create,
    membership_add,
    membership_remove,
    membership_set_role,
)

__all__ = [
    "INVITATION_VALID_DAYS",
    "CreatedInvitation",
    "CreatedKey",
    "activity_record",
    "activity_record_for_member",
    "api_key_create",
    "api_key_rename",
    "api_key_revoke",
    "client_address",
    "customer_create",
    "customer_set_mode",
    "customer_set_require_two_factor",
    "customer_set_status",
    "invitation_accept",
    "invitation_cancel",
    "invitation_create",
    "membership_add",
    "membership_remove",
    "membership_set_role",
    "recovery_codes_renew",
    "two_factor_disable",
    "two_factor_enable",
    "two_factor_pending_device",
    "two_factor_verify",
    "user_set_password",
]
