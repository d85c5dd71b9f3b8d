"""Customer dashboard: the pages every member sees."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import roles, selectors
from accounts.models import Membership

SESSION_CUSTOMER = "customer_slug"

View = Callable[..., HttpResponse]


def forbidden(request: HttpRequest) -> HttpResponse:
    """403: the member's role does not allow this page (JSON for the pages' scripts)."""
    if "application/json" in request.headers.get("Accept", ""):
        message = _("Your role does not allow this page.")
        return JsonResponse({"error": {"code": "permission_denied", "message": message, "details": {}}}, status=403)
    return render(request, "accounts/forbidden.html", status=403)


def _second_factor_needed(request: HttpRequest, membership: Membership) -> HttpResponse | None:
    """Two-factor sign-in (django-otp): a user with an authenticator app sees
    no page before entering its code in this session; a member of a customer
    that requires two-factor sign-in and has no app yet is sent to enrolment
    first. Read from the membership's own query: no query of its own."""
    if request.user.is_verified():  # type: ignore[union-attr]
        return None
    if membership.user_has_two_factor:  # type: ignore[attr-defined]
        target = reverse("account:two_factor_verify")
    elif membership.customer.require_two_factor:
        target = reverse("account:two_factor_enrol")
        if request.path == target:
            return None
    else:
        return None
    if "application/json" in request.headers.get("Accept", ""):
        message = _("Two-factor sign-in is needed: reload the page.")
        return JsonResponse({"error": {"code": "permission_denied", "message": message, "details": {}}}, status=403)
    return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")


def customer_required(view: View) -> View:
    """Sign-in required (with the second factor when the user has one or the
    customer requires it), and the user must be a member of the current
    customer whose role may open the page (``accounts.roles``, by the URL's
    name).

    Sets ``request.customer`` and ``request.membership``. Only members see
    their customer; a user with no membership sees a page saying so.
    """

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = selectors.membership_for(user=request.user, customer_slug=request.session.get(SESSION_CUSTOMER))
        if membership is None:
            membership = selectors.membership_for(user=request.user)
        if membership is None:
            return render(request, "accounts/no_customer.html", status=403)
        second_factor = _second_factor_needed(request, membership)
        if second_factor is not None:
            return second_factor
        request.membership = membership  # type: ignore[attr-defined]
        request.customer = membership.customer  # type: ignore[attr-defined]
        match = request.resolver_match
        if not roles.allows(match.view_name if match else None, membership.role):
            return forbidden(request)
        return view(request, *args, **kwargs)

    return wrapper


def roles_required(*allowed: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.membership.role not in allowed:  # type: ignore[attr-defined]
                return forbidden(request)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# The home page (``dashboard:home``) is ``messaging.home.home``: it reads every
# app (money, traffic, sender IDs), and only messaging may import them all.


@login_required
@require_POST
def switch_customer(request: HttpRequest) -> HttpResponse:
    slug = request.POST.get("customer", "")
    if selectors.membership_for(user=request.user, customer_slug=slug) is not None:
        request.session[SESSION_CUSTOMER] = slug
    return redirect("dashboard:home")
