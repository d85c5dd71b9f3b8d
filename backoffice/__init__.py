"""The staff back office: the Django admin as the place where the business
is run (work queues, staff roles, audit, money reports, provider health).

It may import every domain app's services, selectors and models; no domain
app imports it (docs/architecture.md).
"""
