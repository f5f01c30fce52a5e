"""Reserve, commit, release, expire, resize and limit changes in any order, against a plain model
of the same rules: usage never exceeds a limit and always equals the model's, and every refusal
is one the model makes too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule, run_state_machine_as_test

from apps.core.errors import Refused
from apps.quotas import services
from apps.quotas.models import QuotaLimit
from tests import factories as f

# Nodes: 0 the root, 1 a region below it, 2 and 3 two teams below the region, 4 a project of team 2.
PARENT = {1: 0, 2: 1, 3: 1, 4: 2}
DIMS = ("ecs.instance", "ecs.vcpu")
VCPU = 2  # per instance


def _path(node: int) -> list[int]:
    out = [node]
    while out[-1] in PARENT:
        out.append(PARENT[out[-1]])
    return out


class QuotaMachine(RuleBasedStateMachine):
    reservations = Bundle("reservations")

    def __init__(self):
        super().__init__()
        root = f.org()
        region = f.org(parent=root)
        self.orgs = {0: root, 1: region, 2: f.org(parent=region), 3: f.org(parent=region)}
        self.project = f.project(self.orgs[2])
        self.limits: dict[tuple[int, str], int] = {}
        self.usage: dict[tuple[int, str], int] = {}  # the model: committed + held, per node and dimension
        self.held: dict[str, int] = {}  # reservation -> units still reserved
        self.leaf: dict[str, int] = {}  # reservation -> node it was made for
        self.own: dict[int, int] = {}  # node -> units committed for that node itself (what can be freed there)
        for node, n in ((0, 12), (1, 10), (2, 6), (4, 4)):
            for dim, factor in zip(DIMS, (1, VCPU), strict=True):
                self._set(node, dim, n * factor)
                self.limits[(node, dim)] = n * factor

    def _where(self, node: int) -> dict:
        if node == 4:
            return {"organization": self.orgs[2], "project": self.project}
        return {"organization": self.orgs[node], "project": None}

    def _set(self, node: int, dim: str, value: int) -> None:
        services.limit_set(actor=None, dimension=dim, limit=value, **self._where(node))

    def _covering(self, node: int, dim: str) -> list[int]:
        return [n for n in _path(node) if (n, dim) in self.limits]

    def _fits(self, node: int, units: int) -> bool:
        return all(self.usage.get((n, dim), 0) + units * (1 if dim == DIMS[0] else VCPU) <= self.limits[(n, dim)]
                   for dim in DIMS for n in self._covering(node, dim))

    def _add(self, node: int, units: int) -> None:
        for dim in DIMS:
            for n in _path(node):
                self.usage[(n, dim)] = self.usage.get((n, dim), 0) + units * (1 if dim == DIMS[0] else VCPU)

    @rule(target=reservations, node=st.sampled_from([0, 1, 2, 3, 4]), units=st.integers(1, 5))
    def reserve(self, node, units):
        fits = self._fits(node, units)
        try:
            r = services.quota_reserve(resource_type="ecs.instance",
                                       amounts={"count": units, "vcpu": VCPU * units}, **self._where(node))
        except Refused as exc:
            assert not fits, exc.detail
            assert exc.detail["shortfall"] > 0
            return "refused"
        assert fits
        self._add(node, units)
        self.held[r.id], self.leaf[r.id] = units, node
        return r.id

    @rule(rid=reservations, units=st.integers(1, 5))
    def commit(self, rid, units):
        if rid not in self.held or self.held[rid] == 0:
            return
        services.reservation_commit(reservation_id=rid, units=units)
        done = min(units, self.held[rid])
        self.held[rid] -= done  # committed units stay in usage
        self.own[self.leaf[rid]] = self.own.get(self.leaf[rid], 0) + done

    @rule(rid=reservations, units=st.integers(1, 5))
    def release(self, rid, units):
        if rid not in self.held:
            return
        freed = min(units, self.held[rid])
        services.reservation_release(reservation_id=rid, units=units)
        self.held[rid] -= freed
        self._add(self.leaf[rid], -freed)

    @rule(rid=consumes(reservations))
    def expire(self, rid):
        if rid not in self.held:
            return
        from apps.quotas.models import Reservation

        Reservation.objects.filter(pk=rid).update(expires_at=timezone.now() - timedelta(seconds=1))
        services.reservations_expire()
        self._add(self.leaf[rid], -self.held.pop(rid))

    @rule(node=st.sampled_from([0, 1, 2, 3, 4]), delta=st.integers(-3, 3))
    def resize(self, node, delta):
        """A running instance grows (a reservation of the delta, committed) or shrinks (usage freed)."""
        where = self._where(node)
        if delta > 0:
            fits = self._fits(node, delta)
            try:
                r = services.quota_reserve(resource_type="ecs.instance",
                                           amounts={"count": delta, "vcpu": VCPU * delta}, **where)
            except Refused:
                assert not fits
                return
            assert fits
            services.reservation_commit(reservation_id=r.id)
            self._add(node, delta)
            self.own[node] = self.own.get(node, 0) + delta
        elif delta < 0:
            committed = min(self.own.get(node, 0), -delta)
            if committed <= 0:
                return
            self.own[node] -= committed
            services.usage_free(resource_type="ecs.instance", amounts={"count": committed, "vcpu": VCPU * committed},
                                **where)
            self._add(node, -committed)

    @rule(node=st.sampled_from([0, 1, 2, 4]), dim=st.sampled_from(DIMS), value=st.integers(0, 30))
    def change_limit(self, node, dim, value):
        old = self.limits[(node, dim)]
        self.limits[(node, dim)] = value
        children = {c for c, p in PARENT.items() if p == node and (c, dim) in self.limits}
        grand = {c for c, p in PARENT.items() if p in PARENT and PARENT[p] == node and (p, dim) not in self.limits
                 and (c, dim) in self.limits}
        parent = next((n for n in _path(node)[1:] if (n, dim) in self.limits), None)
        siblings = [c for c in self.limits if c[1] == dim and parent is not None
                    and next((n for n in _path(c[0])[1:] if (n, dim) in self.limits), None) == parent]
        ok = (parent is None or sum(self.limits[s] for s in siblings) <= self.limits[(parent, dim)]) \
            and sum(self.limits[(c, dim)] for c in children | grand) <= value \
            and self.usage.get((node, dim), 0) <= value
        try:
            self._set(node, dim, value)
        except Refused as exc:
            assert not ok, exc.detail
            self.limits[(node, dim)] = old
            return
        assert ok

    @invariant()
    def usage_matches_the_model_and_stays_within_limits(self):
        rows = QuotaLimit.objects.filter(organization__in=self.orgs.values())
        for lim in rows:
            node = 4 if lim.project_id else next(k for k, o in self.orgs.items() if o.pk == lim.organization_id)
            assert lim.used == self.usage.get((node, lim.dimension), 0), (node, lim.dimension)
            assert lim.used <= lim.limit
            assert lim.reserved >= 0 and lim.committed >= 0


@pytest.mark.django_db
def test_quota_rules_agree_with_a_plain_model():
    run_state_machine_as_test(QuotaMachine, settings=settings(
        max_examples=30, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]))
