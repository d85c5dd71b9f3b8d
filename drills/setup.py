"""``python -m drills.setup '{"customers": [...]}'``: the drill's customers, run in the
product's environment (the drill's database). Prints ``DRILLSETUP {json}``: per customer
its slug, a live and a test API key.

Each customer is prepaid with one deposit lot, created through the same services as the
staff commands ``createcustomer``, ``topup`` and ``createapikey``.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    import django

    django.setup()
    from accounts import services as accounts
    from accounts.models import ApiKey, Customer
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
        out.append({"slug": customer.slug, "id": customer.pk, "live_key": live, "test_key": test})
    print("DRILLSETUP " + json.dumps({"customers": out}), flush=True)


if __name__ == "__main__":
    main()
