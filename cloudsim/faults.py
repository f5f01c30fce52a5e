"""Injected faults: latency, errors, held requests (timeouts) and lost responses, per action."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import CloudError

TRANSIENT_DEFAULTS = {
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
    "Throttling": (400, "Request was denied due to request throttling."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "InternalError": (500, "The request processing has failed due to some unknown error."),
}


@dataclass
class FaultRule:
    action: str = "*"           # an action name, or "*" for every action
    error_rate: float = 0.0     # 0..1: share of calls answered with ``code``
    code: str = "ServiceUnavailable"
    status: int | None = None
    message: str | None = None
    latency_ms: int = 0         # added before anything else
    timeout_rate: float = 0.0   # 0..1: share of calls held for ``hold_ms`` and then closed unanswered
    hold_ms: int = 30_000
    lost_rate: float = 0.0      # 0..1: share of calls applied but whose connection is dropped unanswered
    remaining: int | None = None  # apply to this many more matching calls, then retire
    id: int = field(default=0)

    def error(self) -> CloudError:
        status, message = TRANSIENT_DEFAULTS.get(self.code, (400, f"Injected fault {self.code}."))
        return CloudError(self.code, self.message or message, self.status or status)


@dataclass
class Decision:
    latency_ms: int = 0
    error: CloudError | None = None
    hold_ms: int = 0
    lose_response: bool = False


class Faults:
    def __init__(self, seed: int = 1):
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> FaultRule:
        allowed = set(FaultRule.__dataclass_fields__) - {"id"}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        rule = FaultRule(**spec)
        for rate in (rule.error_rate, rule.timeout_rate, rule.lost_rate):
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError("rates must be between 0 and 1")
        if rule.status is not None and not 400 <= int(rule.status) <= 599:
            raise ValueError("status must be a 4xx or 5xx code")
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def clear(self, action: str | None = None) -> int:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if action is not None and r.action != action]
            return before - len(self._rules)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def decide(self, action: str) -> Decision:
        decision = Decision()
        with self._lock:
            for rule in list(self._rules):
                if rule.action not in ("*", action):
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                        continue
                    rule.remaining -= 1
                decision.latency_ms += int(rule.latency_ms)
                if decision.error is None and not decision.hold_ms and not decision.lose_response:
                    roll = self._rng.random()
                    if roll < rule.timeout_rate:
                        decision.hold_ms = int(rule.hold_ms)
                    elif roll < rule.timeout_rate + rule.error_rate:
                        decision.error = rule.error()
                    elif self._rng.random() < rule.lost_rate:
                        decision.lose_response = True
        return decision
