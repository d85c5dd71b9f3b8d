"""Customer dashboard: the pages every member sees."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors
from accounts.models import Membership

SESSION_CUSTOMER = "customer_slug"

View = Callable[..., HttpResponse]


def customer_required(view: View) -> View:
    """Sign-in required, and the user must be a member of the current customer.

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
        request.membership = membership  # type: ignore[attr-defined]
        request.customer = membership.customer  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def roles_required(*roles: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.membership.role not in roles:  # type: ignore[attr-defined]
                return render(request, "accounts/forbidden.html", status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


@customer_required
def home(request: HttpRequest) -> HttpResponse:
    customer = request.customer  # type: ignore[attr-defined]
    context = {
        "customer": customer,
        "membership": request.membership,  # type: ignore[attr-defined]
        "memberships": Membership.objects.select_related("customer").filter(user=request.user),
        "api_keys": selectors.customer_api_keys(customer=customer).filter(revoked_at__isnull=True)[:10],
    }
    return render(request, "accounts/home.html", context)


@login_required
@require_POST
def switch_customer(request: HttpRequest) -> HttpResponse:
    slug = request.POST.get("customer", "")
    if selectors.membership_for(user=request.user, customer_slug=slug) is not None:
        request.session[SESSION_CUSTOMER] = slug
    return redirect("dashboard:home")
