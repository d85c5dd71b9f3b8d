"""SMS over SMPP 3.4: ``SmppProvider`` keeps one long-lived bind to one SMSC account.

* the TCP connection and bind are made lazily by the first ``send`` (or by
  ``connect``/``run_forever``), under a lock, and shared by every thread;
* the connection's reader thread hands ``deliver_sm`` to a receipt thread
  (``receipts.ReceiptThread``), which parses the receipt, calls ``on_report``
  (several waiting receipts at once through ``on_report.many`` when it has it)
  and then answers ``deliver_sm_resp`` (always, even when the PDU is malformed
  or ``on_report`` fails: a receipt is never retried forever). ``on_report`` is
  injected by whoever builds the provider (the registry passes the dispatch
  service's ``receipt_record``, the ``smpp_bind`` command the same): this
  package never imports the services;
* a dropped connection is noticed by the reader; the next ``send`` binds
  again at once; failed connects/binds back off exponentially with jitter,
  and a ``send`` during the back-off returns RETRY at once (never hangs),
  with ``submitted=False`` and the back-off left as ``retry_after`` (a lower
  bound for the dispatcher, never its schedule: Review 8.14);
* a ``submit_sm`` whose ``submit_sm_resp`` does not come in time drops the
  connection: the next attempt binds again instead of writing into a silent
  session, so a hung SMSC gets at most one copy it may act on later
  (Review 8.17).

``send`` never loses a message silently: any doubt returns RETRY. The one
case where RETRY may duplicate is a ``submit_sm`` that was written but whose
``submit_sm_resp`` never came back: error_code ``no_response`` or
``connection_lost`` (``AMBIGUOUS_ERROR_CODES``); the SMSC may have taken it.
Every other RETRY (``not_connected``, ``rate_limited``, ``closed``, an SMSC
status) means nothing was accepted. The provider never resubmits on its
own, and a resent multi-part text gets a new UDH reference, so a handset
never merges parts of two attempts. For an OTP a duplicate is far less
harmful than a loss.
"""

from __future__ import annotations

import logging
import os
import random
import re
import secrets
import threading
import time
from zoneinfo import ZoneInfo

from smpplib import consts

from messaging.limits import LocalTokenBucket, TokenBucket, acquire
from messaging.providers.base import (
    OutboundMessage,
    Outcome,
    ProviderResult,
    ReportCallback,
)
from messaging.providers.smpp.account import SmppAccount, accounts_from_settings, provider_options_from_settings
from messaging.providers.smpp.codec import (
    THROTTLE_RETRY_AFTER,
    MessageTooLong,
    describe,
    encode_parts,
    outcome_for_status,
    status_code,
)
from messaging.providers.smpp.connection import (
    BindRefused,
    Connection,
    ConnectionLost,
    NoResponse,
    NotBound,
    SmppError,
)
from messaging.providers.smpp.receipts import ReceiptThread

logger = logging.getLogger("messaging.providers.smpp")


_rng = random.SystemRandom()
_DEFAULT_BUCKET = LocalTokenBucket()


class SmppProvider:
    """``send(message) -> ProviderResult`` over one long-lived bind to ``account``.

    ``mode``: "transceiver" (default when ``on_report`` is given: receipts the SMSC sends on
    this bind are reported) or "transmitter" (default without ``on_report``, so the SMSC sends
    receipts to a bind that reports them, such as the ``smpp_bind`` process, instead of one
    that would drop them).
    """

    name = "smpp"

    def __init__(
        self,
        account: SmppAccount,
        *,
        on_report: ReportCallback | None = None,
        bucket: TokenBucket | None = None,
        mode: str | None = None,
        response_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        enquire_link_interval: float = 30.0,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        throttle_timeout: float = 2.0,
    ) -> None:
        mode = mode or ("transceiver" if on_report is not None else "transmitter")
        if mode not in ("transceiver", "transmitter"):
            raise ValueError(f"unknown bind mode {mode!r}")
        self.account = account
        self.on_report = on_report
        self.bucket: TokenBucket = bucket if bucket is not None else _DEFAULT_BUCKET
        self.mode = mode
        self.response_timeout = response_timeout
        self.connect_timeout = connect_timeout
        self.enquire_link_interval = enquire_link_interval
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.throttle_timeout = throttle_timeout

        self._lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._conn: Connection | None = None
        self._failures = 0
        self._next_attempt = 0.0
        self._last_error = ""
        self._last_error_code = "not_connected"
        self._closed = False
        self._ref = secrets.randbelow(256)
        self._receipts = ReceiptThread(account.name, ZoneInfo(account.receipt_tz), on_report)

    def __repr__(self) -> str:
        return f"<SmppProvider {self.account.name} {self.mode} {'bound' if self.connected else 'not bound'}>"

    # -- the bind

    @property
    def connected(self) -> bool:
        conn = self._conn
        return conn is not None and conn.bound and not conn.closed.is_set()

    @property
    def last_error(self) -> str:
        """Why the last bind failed ("" once bound again): the provider health page shows it."""
        return "" if self.connected else self._last_error

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is not None and not conn.closed.is_set():
            return conn
        with self._connect_lock:
            conn = self._conn
            if conn is not None and not conn.closed.is_set():
                return conn
            if self._closed:
                raise NotBound("provider closed", error_code="closed", retry_after=None)
            wait = self._next_attempt - time.monotonic()
            if wait > 0:
                raise NotBound(
                    f"not bound, next attempt in {wait:.1f}s ({self._last_error})",
                    error_code=self._last_error_code,
                    retry_after=wait,
                )
            self._receipts.start()
            conn = Connection(
                self.account,
                self.mode,
                on_deliver=self._receipts.put,
                connect_timeout=self.connect_timeout,
                response_timeout=self.response_timeout,
                enquire_link_interval=self.enquire_link_interval,
            )
            try:
                conn.open()
            except BindRefused as exc:
                self._failed(str(exc), status_code(exc.status))
                logger.error("SMPP %s: %s", self.account.name, exc)
                raise NotBound(str(exc), error_code=status_code(exc.status), retry_after=self._backoff_left()) from exc
            except SmppError as exc:
                self._failed(str(exc), "not_connected")
                logger.warning("SMPP %s: %s", self.account.name, exc)
                raise NotBound(str(exc), error_code="not_connected", retry_after=self._backoff_left()) from exc
            self._failures = 0
            self._next_attempt = 0.0
            self._conn = conn
            return conn

    def _failed(self, message: str, code: str) -> None:
        self._failures += 1
        delay = min(self.backoff_max, self.backoff_base * 2 ** (self._failures - 1))
        delay *= _rng.uniform(0.5, 1.0)  # jitter: binds from many workers do not stampede the SMSC
        self._next_attempt = time.monotonic() + delay
        self._last_error = message
        self._last_error_code = code

    def _backoff_left(self) -> float:
        return max(0.0, self._next_attempt - time.monotonic())

    def connect(self) -> bool:
        """Bind now if not bound (respecting the back-off); True when bound."""
        try:
            self._connection()
        except NotBound:
            return False
        return True

    def ping(self, timeout: float | None = None) -> bool:
        """One enquire_link on the current bind; True when answered."""
        conn = self._conn
        if conn is None or conn.closed.is_set():
            return False
        try:
            conn.request("enquire_link", timeout=timeout)
        except SmppError:
            return False
        return True

    def run_forever(self, stop: threading.Event, *, poll: float = 0.5, flap_window: float = 5.0) -> None:
        """Keep the bind open until ``stop`` is set, binding again after every drop.

        Failed binds back off exponentially with jitter (``backoff_base`` doubling up to
        ``backoff_max``); so do binds that the SMSC keeps dropping within ``flap_window``
        seconds, so a flapping SMSC is not hammered.
        """
        flaps = 0
        while not stop.is_set():
            try:
                conn = self._connection()
            except NotBound as exc:
                if exc.error_code == "closed":
                    return
                stop.wait(exc.retry_after if exc.retry_after is not None else poll)
                continue
            while not stop.is_set() and not conn.closed.wait(poll):
                pass
            if stop.is_set():
                return
            if time.monotonic() - conn.opened_at < flap_window:
                flaps += 1
                delay = min(self.backoff_max, self.backoff_base * 2 ** (flaps - 1)) * _rng.uniform(0.5, 1.0)
                logger.warning(
                    "SMPP %s: bind dropped after a short while, next bind in %.1fs", self.account.name, delay
                )
                stop.wait(delay)
            else:
                flaps = 0

    def close(self) -> None:
        """Unbind and close; later sends return RETRY ("closed")."""
        with self._connect_lock:
            self._closed = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close(unbind=True)
        self._receipts.stop(self.response_timeout)

    # -- sending

    def _next_ref(self) -> int:
        with self._lock:
            self._ref = (self._ref + 1) % 256
            return self._ref

    def _source(self, sender_id: str) -> tuple[str, int, int]:
        sender = (sender_id or self.account.default_sender).strip()
        if not sender:
            return "", consts.SMPP_TON_UNK, consts.SMPP_NPI_UNK
        digits = sender.removeprefix("+")
        if re.fullmatch(r"[0-9]+", digits):
            return digits, self.account.numeric_ton, self.account.numeric_npi
        return sender, self.account.alnum_ton, self.account.alnum_npi

    def _validity(self) -> str:
        minutes = self.account.validity_minutes
        if minutes <= 0:
            return ""
        days, rest = divmod(minutes, 24 * 60)
        hours, mins = divmod(rest, 60)
        return f"0000{days:02d}{hours:02d}{mins:02d}00000R"  # relative: YYMMDDhhmmss t nn R

    def send(self, message: OutboundMessage) -> ProviderResult:
        if not re.fullmatch(r"\+?[1-9][0-9]{5,14}", message.to):
            return ProviderResult(Outcome.PERMANENT, error_code="invalid_destination", error_message="not E.164")
        destination = message.to.removeprefix("+")
        source, source_ton, source_npi = self._source(message.sender_id)
        try:
            parts, data_coding, esm_class = encode_parts(message.text, message.encoding, ref=self._next_ref())
        except MessageTooLong as exc:
            return ProviderResult(Outcome.PERMANENT, error_code="message_too_long", error_message=str(exc))
        validity = self._validity()
        ids: list[str] = []
        for index, short_message in enumerate(parts):
            if self.account.tps > 0 and not acquire(
                self.bucket,
                f"smpp:{self.account.name}",
                rate=self.account.tps,
                capacity=max(1.0, self.account.tps),
                # The first part may give up quickly; later parts wait longer rather than
                # leave a message half sent.
                timeout=self.throttle_timeout if index == 0 else self.response_timeout,
            ):
                return self._retry(
                    "rate_limited",
                    f"{self.account.name} is over {self.account.tps} parts/s",
                    ids,
                    retry_after=1.0 / self.account.tps,
                    submitted=False,
                )
            try:
                conn = self._connection()
            except NotBound as exc:
                return self._retry(exc.error_code, str(exc), ids, retry_after=exc.retry_after, submitted=False)
            try:
                response = conn.request(
                    "submit_sm",
                    source_addr_ton=source_ton,
                    source_addr_npi=source_npi,
                    source_addr=source,
                    dest_addr_ton=self.account.dest_ton,
                    dest_addr_npi=self.account.dest_npi,
                    destination_addr=destination,
                    esm_class=esm_class,
                    validity_period=validity,
                    registered_delivery=consts.SMPP_SMSC_DELIVERY_RECEIPT_BOTH,
                    data_coding=data_coding,
                    short_message=short_message,
                )
            except ConnectionLost as exc:
                if not exc.sent:  # nothing reached the SMSC: a clean retry
                    return self._retry("not_connected", f"{exc} (before submit)", ids, submitted=False)
                return self._retry("connection_lost", f"{exc} (after submit: the SMSC may have accepted it)", ids)
            except NoResponse as exc:
                # Review 8.17: a silent session is not used again. Later submits would queue up
                # behind this one in a hung SMSC and all go out when it wakes up; binding again
                # either works (a live SMSC) or fails without submitting anything.
                conn.drop(f"no submit_sm_resp within {self.response_timeout:.1f}s")
                return self._retry("no_response", f"{exc} (after submit: the SMSC may have accepted it)", ids)
            if response.status != consts.SMPP_ESME_ROK:
                return self._refused(conn, response.status, ids)
            if not response.message_id:
                logger.warning("SMPP %s: submit_sm_resp without message_id for %s", self.account.name, message.id)
            ids.append(response.message_id)
        logger.info("SMPP %s: %s accepted as %s", self.account.name, message.id, ",".join(ids))
        return ProviderResult(Outcome.ACCEPTED, provider_message_id=ids[0], part_ids=tuple(ids))

    def _retry(
        self,
        code: str,
        detail: str,
        ids: list[str],
        *,
        retry_after: float | None = None,
        submitted: bool = True,
    ) -> ProviderResult:
        if ids:
            detail += f"; parts {','.join(ids)} were accepted and will be sent again"
        return ProviderResult(
            Outcome.RETRY,
            error_code=code,
            error_message=detail,
            retry_after=retry_after,
            submitted=submitted or bool(ids),
        )

    def _refused(self, conn: Connection, status: int, ids: list[str]) -> ProviderResult:
        outcome = outcome_for_status(status)
        if status == consts.SMPP_ESME_RINVBNDSTS:
            conn.close(unbind=False)  # the SMSC thinks we are not bound: bind again
        detail = describe(status)
        if ids:
            detail += f"; parts {','.join(ids)} were accepted before"
        return ProviderResult(
            outcome,
            error_code=status_code(status),
            error_message=detail,
            retry_after=THROTTLE_RETRY_AFTER if status == consts.SMPP_ESME_RTHROTTLED else None,
        )


# ----------------------------------------------------------------------------- process-wide use


_providers: dict[tuple[int, str], SmppProvider] = {}
_providers_lock = threading.Lock()


def get_provider(name: str | None = None, *, on_report: ReportCallback | None = None) -> SmppProvider:
    """The process's provider for account ``name`` (default: the first in SMPP_ACCOUNTS).

    One bind per account per process; rebuilt after a fork (Celery prefork), since sockets and
    threads do not survive one. Receipts arriving on it go to ``on_report``, given by the
    caller that builds it (the registry, for the dispatch service); a later caller's is ignored.
    """
    from django.conf import settings

    from messaging.limits import default_bucket

    accounts = accounts_from_settings()
    if not accounts:
        raise LookupError("settings.SMPP_ACCOUNTS is empty")
    account = next((a for a in accounts if a.name == name), None) if name else accounts[0]
    if account is None:
        raise LookupError(f"no SMPP account named {name!r}")
    key = (os.getpid(), account.name)
    with _providers_lock:
        provider = _providers.get(key)
        if provider is None:
            for stale in [k for k in _providers if k[0] != key[0]]:
                del _providers[stale]  # inherited from the parent process: unusable here
            provider = SmppProvider(
                account,
                on_report=on_report,
                bucket=default_bucket(),
                mode=getattr(settings, "SMPP_WORKER_BIND_MODE", "transceiver"),
                **provider_options_from_settings(),
            )
            _providers[key] = provider
        return provider


def close_providers() -> None:
    """Unbind every provider ``get_provider`` made in this process (worker shutdown, tests)."""
    with _providers_lock:
        providers = [p for (pid, _), p in _providers.items() if pid == os.getpid()]
        _providers.clear()
    for provider in providers:
        provider.close()
