"""Realtime topics: naming, the permission each needs, sequence numbers and the replay buffer.

A topic is ``<kind>:<key>`` (``operation:op-1a2b``). Each app registers the kinds it publishes with
a resolver that, given a user and a key, returns the organization id the topic belongs to when the
user may read it, or ``None`` (refused, without saying whether it exists). Group names on the
channel layer carry the tenant: ``org.<organization id>.<kind>.<key>``.

Every event of a topic gets the next ``seq`` of that topic and is kept for a short while in the
cache (Redis in the distributed mode), so a reconnecting client asks for what it missed after the
last ``seq`` it saw.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

TOPIC_RE = re.compile(r"^(?P<kind>[a-z][a-z0-9_]{0,31}):(?P<key>[A-Za-z0-9_.\-]{1,64})$")
PLATFORM = "platform"

Resolver = Callable[[Any, str], "str | None"]


@dataclass(frozen=True)
class TopicKind:
    name: str
    resolve: Resolver


_kinds: dict[str, TopicKind] = {}


def register_topic(name: str, resolve: Resolver) -> None:
    _kinds[name] = TopicKind(name, resolve)


def parse_topic(topic: Any) -> tuple[str, str] | None:
    if not isinstance(topic, str):
        return None
    match = TOPIC_RE.match(topic)
    if not match or match["kind"] not in _kinds:
        return None
    return match["kind"], match["key"]


def resolve_topic(user: Any, topic: Any) -> str | None:
    """The organization id (as text) ``topic`` belongs to if ``user`` may follow it, else ``None``."""
    parsed = parse_topic(topic)
    if parsed is None:
        return None
    kind, key = parsed
    return _kinds[kind].resolve(user, key)


# Channel layers accept group names shorter than 100 characters.
MAX_GROUP_NAME = 99


def group_name(org_id: Any, topic: str) -> str:
    tenant = str(org_id) if org_id else PLATFORM
    name = f"org.{tenant}.{topic.replace(':', '.')}"
    if len(name) > MAX_GROUP_NAME:
        # Cutting the name would give two long topics one group (and one seq); a digest keeps
        # them apart and the tenant stays readable in front.
        name = f"org.{tenant}.h{hashlib.sha256(topic.encode()).hexdigest()[:40]}"
    return name


# Sockets opened with one session share a group, so revoking the session closes them all. The group
# is named by a digest: group names travel through Redis and logs, and the key would sign anyone in.
SESSION_REVOKED = "session.revoked"


def session_group(session_key: str) -> str:
    return f"session.{hashlib.sha256(session_key.encode()).hexdigest()}"


# A socket whose principal is a credential of its own (a wall screen's display token, ``token_id``)
# joins that credential's group too, so revoking the credential closes its sockets like a session's.
def credential_group(credential_id: str) -> str:
    return f"credential.{hashlib.sha256(str(credential_id).encode()).hexdigest()}"


def _seq_key(group: str) -> str:
    return f"rt:seq:{group}"


def _event_key(group: str, seq: int) -> str:
    return f"rt:ev:{group}:{seq}"


def next_seq(group: str) -> int:
    key = _seq_key(group)
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        # One INCR (a missing counter starts at 1, and the cache keeps integers unpickled, so
        # ``cache.get`` reads it back): the portable add-then-incr below is three round trips to
        # Redis (add, then incr's exists and incr), paid by every event of every topic.
        client = backend._cache.get_client(key, write=True)
        return int(client.incr(backend.make_and_validate_key(key)))
    cache.add(key, 0, timeout=None)
    try:
        return int(cache.incr(key))
    except ValueError:  # evicted between add and incr
        cache.add(key, 0, timeout=None)
        return int(cache.incr(key))


def next_seqs(groups: list[str]) -> list[int]:
    """``next_seq`` of several groups (the streams of one event): one pipelined round trip to Redis."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache) and len(groups) > 1:
        keys = [_seq_key(group) for group in groups]
        pipeline = backend._cache.get_client(keys[0], write=True).pipeline(transaction=False)
        for key in keys:
            pipeline.incr(backend.make_and_validate_key(key))
        return [int(seq) for seq in pipeline.execute()]
    return [next_seq(group) for group in groups]


def next_seqs_asked(groups: list[str]) -> Callable[[], list[int]]:
    """``next_seqs`` in two halves: the increments are sent to Redis now and their answers read when the
    returned function is called (it must be, once), so what the caller does in between overlaps the round trip.
    Without Redis the numbers are taken now."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache) or not groups:
        seqs = next_seqs(groups)
        return lambda: seqs
    keys = [backend.make_and_validate_key(_seq_key(group)) for group in groups]
    pool = backend._cache.get_client(keys[0], write=True).connection_pool
    conn = pool.get_connection()
    try:
        conn.send_packed_command(conn.pack_commands([("INCR", key) for key in keys]))
    except BaseException:
        conn.disconnect()  # a half-sent command: the connection is not used again
        pool.release(conn)
        raise

    def answers() -> list[int]:
        try:
            return [int(conn.read_response()) for _key in keys]
        except BaseException:
            conn.disconnect()  # answers left unread would be the next command's
            raise
        finally:
            pool.release(conn)

    return answers


def remember_many(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """``remember`` several (group, message): the cache writes them together (one round trip to Redis)."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache) and len(messages) > 1:
        # One SET with its expiry per message, pipelined (``set_many`` would add MULTI, EXEC and an EXPIRE
        # per key around one MSET).
        keys = [backend.make_and_validate_key(_event_key(group, message["seq"])) for group, message in messages]
        pipeline = backend._cache.get_client(keys[0], write=True).pipeline(transaction=False)
        for key, (_group, message) in zip(keys, messages, strict=True):
            pipeline.set(key, backend._cache._serializer.dumps(message), ex=settings.REALTIME_REPLAY_SECONDS)
        pipeline.execute()
        return
    for group, message in messages:
        remember(group, message)


def remember(group: str, message: dict[str, Any]) -> None:
    cache.set(_event_key(group, message["seq"]), message, timeout=settings.REALTIME_REPLAY_SECONDS)


def replay_after(group: str, after: int) -> list[dict[str, Any]] | None:
    """Events of ``group`` after ``after``, or ``None`` when some are gone (the client must reload)."""
    current = int(cache.get(_seq_key(group)) or 0)
    if after > current:
        # The client saw numbers this counter never gave (it was lost, e.g. the cache restarted):
        # its state is from before, and new events would look old to it.
        return None
    if after == current:
        return []
    if current - after > settings.REALTIME_REPLAY_EVENTS:
        return None
    keys = [_event_key(group, seq) for seq in range(after + 1, current + 1)]
    found = cache.get_many(keys)
    if len(found) != len(keys):
        return None
    return [found[k] for k in keys]


def register_builtin_topics() -> None:
    from apps.core.selectors import activity_topic_org, operation_topic_org

    register_topic("operation", operation_topic_org)
    register_topic("activity", activity_topic_org)
