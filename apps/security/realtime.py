"""Wall screens on the websocket: a socket opened by a display-token session may follow only the
topics of its dashboards (``dashboard:<id>``, ``screen:<id>``), re-checked on every subscription so a
revoked token stops at once."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from apps.core.realtime import TOPIC_RE

SCREEN_TOPIC_KINDS = ("dashboard", "screen")


class DisplayTokenPrincipal:
    is_authenticated = True
    is_active = True
    is_superuser = False
    pk = None

    def __init__(self, token_id: str, ip: str | None):
        self.token_id, self.ip = token_id, ip

    def resolve_topic(self, topic: Any) -> str | None:
        from apps.security.services import DisplayTokenRefused, display_token_check

        match = TOPIC_RE.match(topic) if isinstance(topic, str) else None
        if match is None or match["kind"] not in SCREEN_TOPIC_KINDS:
            return None
        try:
            token = display_token_check(token_id=self.token_id, ip=self.ip)
        except DisplayTokenRefused:
            return None
        return str(token.organization_id) if match["key"] in token.dashboards else None


@database_sync_to_async
def _principal(scope: dict[str, Any]) -> DisplayTokenPrincipal | None:
    from apps.security.services import DisplayTokenRefused, display_token_check
    from apps.security.views import SCREEN_TOKEN

    session = scope.get("session")
    token_id = session.get(SCREEN_TOKEN) if session is not None else None
    if not token_id:
        return None
    client = scope.get("client") or [None]
    try:
        display_token_check(token_id=token_id, ip=client[0])
    except DisplayTokenRefused:
        return None
    return DisplayTokenPrincipal(str(token_id), client[0])


async def find_principal(scope: dict[str, Any]) -> DisplayTokenPrincipal | None:
    return await _principal(scope)


def register() -> None:
    from apps.core.consumers import socket_principals

    if find_principal not in socket_principals:
        socket_principals.append(find_principal)
