"""A real SMTP server (aiosmtpd) on loopback for tests that send e-mail.

Register the fixtures in a test module with ``pytest_plugins = ["tests.smtp"]`` (and do not
import this module there, or pytest warns that it cannot rewrite it).

- ``smtp_server`` starts a server on a free port, points ``app.config["SMTP_URL"]`` at it and
  restores the setting afterwards. ``server.messages`` holds parsed ``EmailMessage`` objects in
  arrival order; ``server.text(msg)`` / ``server.html(msg)`` return the two bodies.
- ``server.outage_after = N``: after N accepted messages every further one is refused with
  421 (service shutting down), as when a server goes away in the middle of a batch.
- ``smtp_server_factory(start=False, credentials=None, port=None)`` builds more servers (e.g.
  "down, then up": reserve the port, point SMTP_URL at ``server.url``, ``start()`` later, or
  a new server on an old one's port); all are stopped after the test.

Mail queued during a request is sent when the response is *closed* — a WSGI server does that
right after sending it to the browser. Flask's test client leaves responses open, so close them
(``resp.close()``) or use ``follow_redirects=True`` before looking at ``server.messages``.
"""

from __future__ import annotations

import socket
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _CollectingHandler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_MAIL(self, _server, _session, envelope, address, _options):  # noqa: N802
        outage = self.server.outage_after
        if outage is not None and len(self.server.messages) >= outage:
            return "421 4.3.2 Service shutting down, try again later"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, _server, _session, envelope, address, _options):  # noqa: N802
        if address in self.server.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server, _session, envelope):  # noqa: N802 - aiosmtpd's name
        message = message_from_bytes(envelope.content, policy=default_policy)
        self.server.messages.append(message)
        self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    """``refuse``: recipient addresses answered with 550. ``credentials``: (user, password)
    the server then requires via AUTH (allowed without TLS: loopback only)."""

    def __init__(self, port: int | None = None, credentials: tuple[str, str] | None = None):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.credentials = credentials
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: set[str] = set()
        # After this many accepted messages the server answers every new one with 421
        # (a server going down mid-batch); None = never.
        self.outage_after: int | None = None
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        if self.credentials:
            user, password = self.credentials
            return f"smtp://{user}:{password}@{self.host}:{self.port}"
        return f"smtp://{self.host}:{self.port}"

    def _authenticate(self, _server, _session, _envelope, _mechanism, data):
        ok = (
            isinstance(data, LoginPassword)
            and (
                data.login.decode(),
                data.password.decode(),
            )
            == self.credentials
        )
        return AuthResult(success=ok)

    def start(self) -> SmtpServer:
        kwargs = {}
        if self.credentials:
            kwargs = {
                "auth_required": True,
                "auth_require_tls": False,
                "authenticator": self._authenticate,
            }
        self._controller = Controller(
            _CollectingHandler(self), hostname=self.host, port=self.port, **kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        """Messages arrive on the server's own thread; wait until ``count`` have."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    @staticmethod
    def text(message: EmailMessage) -> str:
        return text_part(message)

    @staticmethod
    def html(message: EmailMessage) -> str:
        return html_part(message)


@pytest.fixture
def smtp_server(app):
    server = SmtpServer().start()
    previous = app.config["SMTP_URL"]
    app.config["SMTP_URL"] = server.url
    try:
        yield server
    finally:
        app.config["SMTP_URL"] = previous
        server.stop()


@pytest.fixture
def smtp_server_factory():
    servers: list[SmtpServer] = []

    def make(
        *,
        start: bool = False,
        credentials: tuple[str, str] | None = None,
        port: int | None = None,
    ) -> SmtpServer:
        server = SmtpServer(port=port, credentials=credentials)
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in servers:
        server.stop()


def text_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()
