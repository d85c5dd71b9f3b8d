"""HTTP plumbing shared by the providers that speak JSON over HTTP (WhatsApp Cloud API, WhatsApp gateway).

``JsonHttpProvider`` holds the config and one pooled session, refuses to send
while a required setting is empty, and POSTs one request, mapping what never
got an answer (a timeout, a connection error) to ``RETRY``; ``json_object``
and ``retry_after_header`` read an answer. Each provider keeps its own table
of what an answer means.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import requests
from requests.adapters import HTTPAdapter

from messaging.providers.base import OutboundMessage, Outcome, ProviderResult


def pooled_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    # No automatic retries: the dispatch service decides (a retried POST may double-send).
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class HttpConfig(Protocol):
    @property
    def timeout(self) -> float: ...  # seconds, for connect and for read

    @property
    def pool_size(self) -> int: ...

    @classmethod
    def from_settings(cls) -> Self: ...


ConfigT = TypeVar("ConfigT", bound=HttpConfig)


class JsonHttpProvider(ABC, Generic[ConfigT]):
    """A provider that POSTs JSON to its upstream over one pooled ``requests.Session``.

    Thread safety: share a provider between threads of one process, never
    between forked processes (build it after the fork, e.g. in the Celery worker).
    """

    name: ClassVar[str]
    config_type: type[ConfigT]  # its from_settings() is the config when none is given
    required: ClassVar[Mapping[str, str]] = MappingProxyType(
        {}
    )  # config field -> its setting; sending needs every one set

    def __init__(self, config: ConfigT | None = None, *, session: requests.Session | None = None) -> None:
        self.config = config if config is not None else self.config_type.from_settings()
        self._session = session if session is not None else pooled_session(self.config.pool_size)

    @property
    def log(self) -> logging.Logger:
        """The provider module's logger."""
        return logging.getLogger(type(self).__module__)

    def close(self) -> None:
        self._session.close()

    def send(self, message: OutboundMessage) -> ProviderResult:
        if not all(getattr(self.config, field) for field in self.required):
            # PERMANENT before the network: an operator problem, logged as an error.
            self.log.error("%s send %s: %s is not set", self.name, message.id, " or ".join(self.required.values()))
            return ProviderResult(
                Outcome.PERMANENT, error_code="not_configured", error_message="provider not configured"
            )
        return self._send(message)

    @abstractmethod
    def _send(self, message: OutboundMessage) -> ProviderResult:
        """Send a message once the required settings are set."""

    def _post(
        self, message: OutboundMessage, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> requests.Response | ProviderResult:
        """The answer to ``POST url`` with a JSON body, or ``RETRY`` when none came (a timeout, a connection error)."""
        try:
            return self._session.post(url, json=body, headers=headers, timeout=self.config.timeout)
        except requests.Timeout as exc:
            self.log.warning("%s send %s timed out: %s", self.name, message.id, exc)
            return ProviderResult(Outcome.RETRY, error_code="timeout", error_message=str(exc))
        except requests.RequestException as exc:
            self.log.warning("%s send %s connection error: %s", self.name, message.id, exc)
            return ProviderResult(Outcome.RETRY, error_code="connection_error", error_message=type(exc).__name__)


def json_object(response: requests.Response) -> dict[str, Any]:
    """The answer's JSON object; ``{}`` when the body is not JSON or not an object."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def retry_after_header(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds; None for an HTTP-date or nothing (the dispatcher's backoff decides)."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
