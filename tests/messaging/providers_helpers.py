"""Fixtures and helpers shared by the WhatsApp provider tests (Cloud API and gateway).

A plain module, not a conftest: a test module imports the fixtures it uses.
Its asserts are not rewritten by pytest, so each says what went wrong.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

import pytest

from devservers._http import DevServerBase, ScriptedDevServer
from devservers.wa_cloud import CallbackReceiver
from messaging.providers.base import DeliveryState, OutboundMessage, ProviderResult

ServerT = TypeVar("ServerT", bound=DevServerBase)
ConfigT = TypeVar("ConfigT")


class Sender(Protocol):
    def send(self, message: OutboundMessage) -> ProviderResult: ...


class Closable(Protocol):
    def close(self) -> None: ...


ProviderT = TypeVar("ProviderT", bound=Closable)


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[CallbackReceiver]:
    """``receiver``: a webhook receiver for the dev servers' callbacks (import ``receiver_fixture``)."""
    with CallbackReceiver() as running:
        yield running


def running(server: ServerT) -> Iterator[ServerT]:
    """A server fixture's body: the server started, and stopped after the test."""
    with server:
        yield server


def closing(provider: ProviderT) -> Iterator[ProviderT]:
    """A provider fixture's body: the provider, closed after the test."""
    yield provider
    provider.close()


def config_with(
    config_type: Callable[..., ConfigT], values: dict[str, object], overrides: dict[str, object]
) -> ConfigT:
    """A provider config pointing at a dev server (``values``), with a 2-second timeout, then ``overrides``."""
    return config_type(**{**values, "timeout": 2.0, **overrides})


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send_with_callbacks(
    server: ScriptedDevServer[Any, Any, Any],
    provider: Sender,
    message: OutboundMessage,
    receiver: CallbackReceiver,
    count: int,
    *,
    wait_for_sent: bool = False,
) -> ProviderResult:
    """Send through the (started) dev server, wait for ``count`` callbacks at the receiver, then stop the server.

    With ``wait_for_sent`` the server must also have recorded ``count`` callbacks as sent.
    """
    try:
        result = provider.send(message)
        assert receiver.wait_for_requests(count, timeout=5), f"{len(receiver.requests)} of {count} callbacks arrived"
        if wait_for_sent:
            assert server.wait_for_callbacks(count, timeout=5), f"{len(server.callbacks)} of {count} callbacks sent"
    finally:
        server.stop()
    return result


def sent_then_delivered(provider_message_id: str) -> list[tuple[str, DeliveryState]]:
    """The reports of a message's default callbacks, in order."""
    return [(provider_message_id, DeliveryState.SENT), (provider_message_id, DeliveryState.DELIVERED)]
