"""``python -m drills.setup '{"customers": [...]}'``: the drill's customers, run in the
product's environment (the drill's database). Prints ``DRILLSETUP {json}``: per customer
its slug, a live and a test API key, and a signed-in dashboard session of its owner.

Each customer is prepaid with one deposit lot, created through the same services as the
staff commands ``createcustomer``, ``topup`` and ``createapikey``. The owner's session is
made as ``django.contrib.auth.login`` makes one (the drills do not go through the login
form: its throttle and two-factor steps are the hostile-input tests' business).
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts import services as accounts
    from accounts.models import ApiKey, Customer, Membership, User
    from billing import services as billing

    spec = json.loads(sys.argv[1])
    out = []
    for item in spec["customers"]:
        customer = accounts.customer_create(
            name=item["name"], billing_email=f"{item['slug']}@drill.test", mode=Customer.Mode.PREPAID, slug=item["slug"]
        )
        billing.lot_create(customer=customer, amount=item["deposit"], reference=f"drill-{item['slug']}")
        live = accounts.api_key_create(customer=customer, mode=ApiKey.Mode.LIVE, name="drill").secret
        test = accounts.api_key_create(customer=customer, mode=ApiKey.Mode.TEST, name="drill").secret
        owner = User.objects.create_user(f"owner@{item['slug']}.drill.test", None)
        Membership.objects.create(user=owner, customer=customer, role=Membership.Role.OWNER)
        session = SessionStore()
        session[SESSION_KEY] = str(owner.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = owner.get_session_auth_hash()
        session.create()
        out.append(
            {
                "slug": customer.slug,
                "id": customer.pk,
                "live_key": live,
                "test_key": test,
                "session": session.session_key,
            }
        )
    print("DRILLSETUP " + json.dumps({"customers": out}), flush=True)


if __name__ == "__main__":
    main()
