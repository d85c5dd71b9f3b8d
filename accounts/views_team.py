"""The team pages (owners only, ``accounts.roles``): members and their roles,
invitations, the team's two-factor requirement and the activity log; and the
public page an invitation's link opens."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import (
    AcceptInvitationForm,
    ActivityFilterForm,
    InviteForm,
    RoleForm,
    TeamTwoFactorForm,
    add_service_error,
    service_error_text,
)
from accounts.models import Customer, Invitation, Membership
from accounts.views import SESSION_CUSTOMER, customer_required
from accounts.views_security import verify_url
from otpportal.errors import ServiceError

ACTIVITY_PAGE_SIZE = 50
SIGN_IN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _customer(request: HttpRequest) -> Customer:
    return request.customer  # type: ignore[attr-defined,no-any-return]


def _member(request: HttpRequest, membership_id: int) -> Membership:
    membership = selectors.membership_of(customer=_customer(request), membership_id=membership_id)
    if membership is None:
        raise Http404(_("No such member."))
    return membership


# --- Members and invitations --------------------------------------------------------------


def _team_page(request: HttpRequest, invite_form: InviteForm | None = None, status: int = 200) -> HttpResponse:
    customer = _customer(request)
    members = selectors.members(customer=customer)
    context: dict[str, Any] = {
        "members": members,
        "owners": sum(1 for m in members if m.role == Membership.Role.OWNER),
        "without_two_factor": sum(1 for m in members if not m.has_two_factor),
        "invitations": selectors.open_invitations(customer=customer),
        "invite_form": invite_form or InviteForm(),
        "roles": Membership.Role.choices,
        "i_have_two_factor": selectors.has_two_factor(request.user),  # type: ignore[arg-type]
        "valid_days": services.INVITATION_VALID_DAYS,
    }
    return render(request, "accounts/team.html", context, status=status)


@require_GET
@customer_required
def team(request: HttpRequest) -> HttpResponse:
    return _team_page(request)


@require_POST
@customer_required
def invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            created = services.invitation_create(
                customer=_customer(request),
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,  # type: ignore[arg-type]
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("We emailed an invitation to %(email)s. Its link works once, for %(days)d days.")
                % {"email": created.invitation.email, "days": services.INVITATION_VALID_DAYS},
            )
            return redirect("account:team")
    return _team_page(request, invite_form=form, status=400)


def _team_action(request: HttpRequest, success: str, action: Any, **kwargs: Any) -> HttpResponse:
    """Run one team use case; report its refusal as a message. An invitation or member that
    is not this customer's is a 404, as on every page (issue 14: cross-customer ids)."""
    try:
        action(**kwargs)
    except ServiceError as error:
        if error.code == "not_found":
            raise Http404(service_error_text(error)) from None
        messages.error(request, service_error_text(error))
    else:
        messages.success(request, success)
    return redirect("account:team")


@require_POST
@customer_required
def invitation_cancel(request: HttpRequest, invitation_id: int) -> HttpResponse:
    return _team_action(
        request,
        _("The invitation is canceled: its link no longer works."),
        services.invitation_cancel,
        customer=_customer(request),
        invitation_id=invitation_id,
        actor=request.user,
    )


@require_POST
@customer_required
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _member(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role."))
        return redirect("account:team")
    role = form.cleaned_data["role"]
    return _team_action(
        request,
        _("%(email)s is now %(role)s.") % {"email": membership.user.email, "role": Membership.Role(role).label},
        services.membership_set_role,
        membership=membership,
        role=role,
        actor=request.user,
    )


@require_POST
@customer_required
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _member(request, membership_id)
    response = _team_action(
        request,
        _("%(email)s no longer has access.") % {"email": membership.user.email},
        services.membership_remove,
        membership=membership,
        actor=request.user,
    )
    if membership.user_id == request.user.pk and not Membership.objects.filter(pk=membership.pk).exists():
        request.session.pop(SESSION_CUSTOMER, None)
        return redirect("dashboard:home")  # the owner left this customer
    return response


@require_POST
@customer_required
def team_two_factor(request: HttpRequest) -> HttpResponse:
    form = TeamTwoFactorForm(request.POST)
    required = form.is_valid() and form.cleaned_data["required"]
    return _team_action(
        request,
        _("Every member now signs in with an authenticator app code.")
        if required
        else _("Two-factor sign-in is now each member's choice."),
        services.customer_set_require_two_factor,
        customer=_customer(request),
        required=required,
        actor=request.user,
    )


# --- The activity log ---------------------------------------------------------------------


@require_GET
@customer_required
def activity(request: HttpRequest) -> HttpResponse:
    form = ActivityFilterForm(request.GET)
    action = form.cleaned_data["action"] if form.is_valid() else ""
    events = selectors.activity_events(customer=_customer(request), action=action or None)
    page = Paginator(events, ACTIVITY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/activity.html", {"form": form, "page": page})


# --- Accepting an invitation (the emailed link; no membership needed) -------------------


def _invitation_page(request: HttpRequest, invitation: Invitation | None, mode: str, **extra: Any) -> HttpResponse:
    context = {"invitation": invitation, "mode": mode, **extra}
    status = {"invalid": 404, "other_user": 403}.get(mode, 400 if extra.get("error") else 200)
    return render(request, "accounts/invitation.html", context, status=status)


def _joined(request: HttpRequest, membership: Membership) -> HttpResponse:
    request.session[SESSION_CUSTOMER] = membership.customer.slug
    messages.success(
        request,
        _("Welcome to %(customer)s. Your role: %(role)s.")
        % {"customer": membership.customer.name, "role": membership.get_role_display()},
    )
    return redirect("dashboard:home")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.invitation_for_token(token)
    if invitation is None or not invitation.is_open():
        return _invitation_page(request, None, "invalid")
    user = request.user
    if user.is_authenticated:
        if user.email.lower() != invitation.email:  # type: ignore[union-attr]
            return _invitation_page(request, invitation, "other_user")
        if selectors.has_two_factor(user) and not user.is_verified():  # type: ignore[union-attr,arg-type]
            return redirect(verify_url(request.get_full_path()))
        if request.method == "POST":
            try:
                membership = services.invitation_accept(token=token, user=user)  # type: ignore[arg-type]
            except ServiceError as error:
                return _invitation_page(request, invitation, "confirm", error=service_error_text(error))
            return _joined(request, membership)
        return _invitation_page(request, invitation, "confirm")
    if selectors.user_exists(invitation.email):
        return _invitation_page(request, invitation, "sign_in", next=request.get_full_path())
    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.invitation_accept(
                token=token, password=form.cleaned_data["password1"], full_name=form.cleaned_data["full_name"]
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            login(request, membership.user, backend=SIGN_IN_BACKEND)
            return _joined(request, membership)
    return _invitation_page(request, invitation, "new", form=form, error=bool(form.errors))
