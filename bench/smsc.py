"""The local SMSC for the dispatch case: ``devservers.smsc.SmscServer`` on
127.0.0.1, with what it received written to a JSON file every 0.2 s
(``python -m bench.smsc --stats FILE``). Prints ``PORT <n>`` once listening."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from collections import Counter
from pathlib import Path

from devservers.smsc import SmscServer


def stats(server: SmscServer) -> dict[str, int]:
    submits = server.submits
    accepted = [r for r in submits if r.accepted]
    copies = Counter((r.destination_addr, r.text) for r in accepted)
    return {
        "submits": len(submits),
        "accepted": len(accepted),
        "distinct": len(copies),
        "duplicates": sum(n - 1 for n in copies.values()),
        "receipts_acked": len(server.acks),
        "binds": len(server.binds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.smsc")
    parser.add_argument("--stats", required=True)
    parser.add_argument("--receipt-delay", type=float, default=0.05)
    options = parser.parse_args()
    server = SmscServer("127.0.0.1", 0, credentials={"otp": "secret"}, receipt_delay=options.receipt_delay)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    port = server.start()
    print(f"PORT {port}", flush=True)
    target = Path(options.stats)
    try:
        while not stop.wait(0.2):
            scratch = target.with_suffix(".tmp")
            scratch.write_text(json.dumps(stats(server)))
            os.replace(scratch, target)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
