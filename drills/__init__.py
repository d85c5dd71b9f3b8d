"""Reliability drills (issue 14): real processes, a bounded load, one fault, then proof.

Each drill starts its own PostgreSQL cluster and its own redis-server on free
loopback ports (never the shared ones on 5432 / 6379, which it may then stop,
kill and restart at will), the product's processes against them (gunicorn,
Celery workers, beat, ``smpp_bind``) and the local test servers in this
process (the SMSC, the WhatsApp Cloud API and gateway, a customer's webhook
receiver). It drives live sends through the HTTP API, injects its fault,
waits for recovery and checks what the issue asks: every accepted message
final, none submitted twice to the SMSC (by the SMSC's own log) unless a
``submit_sm_resp`` was lost, every charge once and with its message,
``reconcile`` clean.

    make drill                                      # every drill, full size (long)
    make drill NAME=worker-kill                     # one drill
    .venv/bin/python -m drills --short --shared     # CI sizes on one stack (tests/drills/ runs these)

Results: ``var/drills/<name>.json`` and a table; ``--readme`` writes the table
into ``drills/README.md``. Nothing here is shipped: the apps never import this
package. See drills/README.md.
"""
