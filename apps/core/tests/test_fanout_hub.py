"""A topic's fan-out in one process lets the event loop run every few followers (so the server writes
the first sockets while it hands the event to the next ones): every follower still gets every
event, once and in order, even when events come back to back."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.core import consumers, services
from tests import factories
from unimanager.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost:8000")


def session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), ORIGIN]


def test_followers_get_every_event_in_order_when_the_fan_out_yields_between_them(world, monkeypatch):
    monkeypatch.setattr(consumers, "YIELD_EVERY", 2)
    op = factories.operation(world.org_a)

    def advance_three_times() -> None:
        for step in (1, 2, 3):
            services.operation_advance(operation_id=op.id, step=step, progress=10 * step, message=f"Step {step}")

    async def scenario():
        headers = await database_sync_to_async(session_headers)(world.alice)
        sockets = []
        for _ in range(7):
            socket = WebsocketCommunicator(application, "/ws/", headers=headers)
            assert (await socket.connect())[0]
            await socket.send_json_to({"type": "subscribe", "topic": op.topic})
            assert (await socket.receive_json_from(timeout=2))["type"] == "subscribed"
            sockets.append(socket)
        await database_sync_to_async(advance_three_times)()
        for socket in sockets:
            assert [(await socket.receive_json_from(timeout=2))["seq"] for _ in range(3)] == [1, 2, 3]
            assert await socket.receive_nothing(timeout=0.05)
        for socket in sockets:
            await socket.disconnect()

    async_to_sync(scenario)()
