"""Local stand-ins for the upstreams the providers talk to, on 127.0.0.1, for tests and development.

Not part of the shipped apps: no Django app imports this package, it is not in
INSTALLED_APPS, and it needs nothing but the Python standard library, smpplib and
requests (the WhatsApp servers also reuse the providers' signature helpers).

* ``devservers.smsc``: an SMPP 3.4 SMSC (``python -m devservers.smsc --port 2775``);
* ``devservers.wa_cloud``: the WhatsApp Cloud API (Graph ``/messages`` and signed status webhooks);
* ``devservers.wa_gateway``: our WhatsApp gateway contract;
* ``devservers._http``: the HTTP plumbing the two WhatsApp servers share.
"""
