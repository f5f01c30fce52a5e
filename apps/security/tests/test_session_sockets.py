"""Ending a session closes the websockets opened with it: a last ``signed_out`` frame naming where to
sign in, then close code 4401, once the ending commits; the person's other sessions stay connected."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from apps.organizations.services import user_set_active, user_set_password
from apps.security import services
from apps.security.models import UserSession
from apps.security.tests.factories import person
from unimanager.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")
SIGNED_OUT = 4401
PASSWORD = "x-Unimanager-9"  # the one the factory gives


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def signed_in(username: str) -> Client:
    client = Client()
    response = client.post("/signin/", {"username": username, "password": PASSWORD}, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 302
    return client


async def socket_of(client: Client) -> WebsocketCommunicator:
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    socket = WebsocketCommunicator(application, "/ws/", headers=[(b"cookie", cookie), ORIGIN])
    accepted, _ = await socket.connect()
    assert accepted
    assert await still_open(socket)
    return socket


async def still_open(socket: WebsocketCommunicator) -> bool:
    await socket.send_json_to({"type": "ping"})
    return await socket.receive_json_from(timeout=2) == {"type": "pong"}


async def assert_signed_out(socket: WebsocketCommunicator, signin: str = "/signin/") -> None:
    assert await socket.receive_json_from(timeout=2) == {"type": "signed_out", "signin": signin}
    closed = await socket.receive_output(timeout=2)
    assert closed == {"type": "websocket.close", "code": SIGNED_OUT}


def session_of(client: Client) -> UserSession:
    return UserSession.objects.get(session_key=client.session.session_key)


def test_sign_out_everywhere_closes_the_sockets_of_the_other_sessions_only():
    person(username="tom")
    first, second = signed_in("tom"), signed_in("tom")

    async def scenario():
        others, own = await socket_of(first), await socket_of(first)
        kept = await socket_of(second)
        response = await database_sync_to_async(second.post)("/api/v1/security/sessions/revoke-all/")
        assert response.status_code == 200
        await assert_signed_out(others)
        await assert_signed_out(own)
        assert await still_open(kept)
        await kept.disconnect()

    run(scenario)


def test_revoking_one_session_in_the_security_center_closes_its_sockets():
    ann = person(username="ann")
    phone, laptop = signed_in("ann"), signed_in("ann")

    async def scenario():
        on_phone, on_laptop = await socket_of(phone), await socket_of(laptop)
        await database_sync_to_async(services.session_revoke)(actor=ann, session=await database_sync_to_async(
            session_of)(phone))
        await assert_signed_out(on_phone)
        assert await still_open(on_laptop)
        await on_laptop.disconnect()

    run(scenario)


def test_a_password_reset_by_an_administrator_closes_every_socket_of_the_person():
    rita = person(username="rita")
    first, second = signed_in("rita"), signed_in("rita")

    async def scenario():
        sockets = [await socket_of(first), await socket_of(second)]
        await database_sync_to_async(user_set_password)(actor=None, user=rita, password="Long-enough-Pass-1234")
        for socket in sockets:
            await assert_signed_out(socket)

    run(scenario)


def test_disabling_a_person_closes_their_sockets_and_nobody_elses():
    carl = person(username="carl")
    person(username="dora")
    carls, doras = signed_in("carl"), signed_in("dora")

    async def scenario():
        of_carl, of_dora = await socket_of(carls), await socket_of(doras)
        await database_sync_to_async(user_set_active)(actor=None, user=carl, active=False)
        await assert_signed_out(of_carl)
        assert await still_open(of_dora)
        await of_dora.disconnect()

    run(scenario)


def test_signing_out_closes_the_sockets_of_that_session():
    person(username="sven")
    client = signed_in("sven")

    async def scenario():
        socket = await socket_of(client)
        assert (await database_sync_to_async(client.post)("/signout/")).status_code == 302
        await assert_signed_out(socket)

    run(scenario)


def test_a_revocation_that_is_rolled_back_closes_nothing():
    una = person(username="una")
    client = signed_in("una")

    def revoke_then_fail(session: UserSession) -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.session_revoke(actor=una, session=session)
            raise RuntimeError("rolled back")

    async def scenario():
        socket = await socket_of(client)
        await database_sync_to_async(revoke_then_fail)(await database_sync_to_async(session_of)(client))
        assert await still_open(socket)
        await socket.disconnect()

    run(scenario)


def test_a_wall_screen_that_signs_out_is_sent_to_the_screen_sign_in(org_with_token: Any):
    raw = org_with_token
    screen = Client()
    assert screen.post("/screens/signin/", {"token": raw}).status_code == 302

    async def scenario():
        socket = await socket_of(screen)
        assert (await database_sync_to_async(screen.post)("/screens/signout/")).status_code == 302
        await assert_signed_out(socket, signin="/screens/signin/")

    run(scenario)


@pytest.fixture
def org_with_token() -> str:
    from tests import factories as f

    _token, raw = services.display_token_create(actor=None, organization=f.org("Screens"), name="NOC",
                                                dashboards=["noc"])
    return raw
