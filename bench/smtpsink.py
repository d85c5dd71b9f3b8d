"""A minimal SMTP server on 127.0.0.1 that accepts every message and keeps
none (the month-end-docs case's mail server): ``python -m bench.smtpsink
--stats FILE``. Prints ``PORT <n>`` once listening; writes the count of
messages and bytes received to the stats file every 0.05 s."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path

received = {"messages": 0, "bytes": 0, "recipients": 0}


async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    def reply(line: str) -> None:
        writer.write((line + "\r\n").encode())

    reply("220 bench-sink ESMTP")
    try:
        while True:
            line = await asyncio.wait_for(reader.readline(), 120)
            if not line:
                break
            verb = line[:4].decode("ascii", "replace").upper()
            if verb == "EHLO":
                reply("250-bench-sink")
                reply("250-8BITMIME")
                reply("250 SIZE 0")
            elif verb == "HELO":
                reply("250 bench-sink")
            elif verb == "RCPT":
                received["recipients"] += 1
                reply("250 OK")
            elif verb in ("MAIL", "RSET", "NOOP"):
                reply("250 OK")
            elif verb == "DATA":
                reply("354 End data with <CR><LF>.<CR><LF>")
                await writer.drain()
                # Read in blocks up to the "<CR><LF>.<CR><LF>" that ends the data: line by line,
                # the sink used a fifth of the machine while the workers mailed PDFs and CSVs,
                # CPU the case's own processes then did not get (issue 11, stop 17).
                size, tail = 0, b"\r\n"
                while True:
                    chunk = await asyncio.wait_for(reader.read(1 << 16), 120)
                    if not chunk:
                        break
                    window = tail + chunk
                    end = window.find(b"\r\n.\r\n")
                    if end >= 0:
                        size += max(0, end + 2 - len(tail))
                        break
                    size += len(chunk)
                    tail = window[-4:]
                received["messages"] += 1
                received["bytes"] += size
                reply("250 OK queued")
            elif verb == "QUIT":
                reply("221 Bye")
                await writer.drain()
                break
            else:
                reply("502 Command not implemented")
            await writer.drain()
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(stats: Path) -> None:
    server = await asyncio.start_server(session, "127.0.0.1", 0, limit=1 << 20)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        while not stop.is_set():
            scratch = stats.with_suffix(".tmp")
            scratch.write_text(json.dumps(received))
            os.replace(scratch, stats)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.smtpsink")
    parser.add_argument("--stats", required=True)
    asyncio.run(serve(Path(parser.parse_args().stats)))


if __name__ == "__main__":
    main()
