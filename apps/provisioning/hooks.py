"""Hooks later apps fill: quotas (reserve before provisioning, commit on success, release on
failure) and price estimates. The defaults grant every reservation and estimate nothing.

A quota backend implements ``reserve(*, organization, project, resource_type, amounts, platform,
region) -> str`` (a reservation id; raise ``apps.core.errors.Refused`` with code ``quota_exceeded``
to refuse), ``commit(reservation_id, *, part)`` and ``release(reservation_id, *, part)``; ``part``
is the share of the reservation (one instance of a request for several) that succeeded or failed.
``amounts`` are totals over the request: ``count``, ``vcpu``, ``memory_mib``, ``disk_gib``.
It may also implement ``refused(*, organization, project, resource_type, error)``, told after the
refused request's transaction rolled back (so what it announces is not rolled back with it), and
``free(*, organization, project, resource_type, amounts, platform, region)``, told when the cloud
confirmed that usage went away (a release, or a resize to a smaller type: only the delta).
A resize reserves only its growth: ``amounts`` then carries ``instances: 0``.
A price estimator returns ``{"currency", "hourly", "monthly"}`` or ``{}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class QuotaBackend(Protocol):
    def reserve(self, *, organization: Any, project: Any, resource_type: str, amounts: dict[str, int],
                platform: Any = None, region: str = "") -> str: ...

    def commit(self, reservation_id: str, *, part: dict[str, int]) -> None: ...

    def release(self, reservation_id: str, *, part: dict[str, int]) -> None: ...


class GrantEverything:
    def reserve(self, *, organization: Any, project: Any, resource_type: str, amounts: dict[str, int],
                platform: Any = None, region: str = "") -> str:
        return ""

    def commit(self, reservation_id: str, *, part: dict[str, int]) -> None:
        return None

    def release(self, reservation_id: str, *, part: dict[str, int]) -> None:
        return None


PriceEstimator = Callable[..., dict[str, Any]]

_quota: QuotaBackend = GrantEverything()
_estimator: PriceEstimator | None = None


def install_quota_backend(backend: QuotaBackend) -> QuotaBackend:
    """Let ``backend`` decide quotas from now on; returns the one it replaces."""
    global _quota
    previous, _quota = _quota, backend
    return previous


def quota_backend() -> QuotaBackend:
    return _quota


def install_price_estimator(estimator: PriceEstimator | None) -> PriceEstimator | None:
    global _estimator
    previous, _estimator = _estimator, estimator
    return previous


def price_estimate(*, platform: Any, region: str, resource_type: str, spec: dict[str, Any], count: int
                   ) -> dict[str, Any]:
    if _estimator is None:
        return {}
    try:
        return _estimator(platform=platform, region=region, resource_type=resource_type, spec=spec, count=count)
    except Exception:  # noqa: BLE001 - an estimate is advisory; a broken price book must not block requests
        logger.exception("price estimate failed")
        return {}


def quota_refused(*, organization: Any, project: Any, resource_type: str, error: Exception) -> None:
    """Tell the backend a reservation was refused, once the refused transaction is gone."""
    refused = getattr(_quota, "refused", None)
    if refused is None:
        return
    try:
        refused(organization=organization, project=project, resource_type=resource_type, error=error)
    except Exception:  # noqa: BLE001 - announcing a refusal must not replace the refusal itself
        logger.exception("quota refusal notice failed")


def quota_free(*, organization: Any, project: Any, resource_type: str, amounts: dict[str, int], platform: Any = None,
               region: str = "") -> None:
    """Tell the backend confirmed usage went away; a failing backend is logged (the cloud work is done)."""
    free = getattr(_quota, "free", None)
    if free is None:
        return
    try:
        free(organization=organization, project=project, resource_type=resource_type, amounts=amounts,
             platform=platform, region=region)
    except Exception:  # noqa: BLE001
        logger.exception("quota free failed")


def quota_settle(reservation_id: str, *, part: dict[str, int], succeeded: bool) -> None:
    """Commit or release one part of a reservation; a failing backend is logged, never raised into a
    step task (the cloud work is done either way)."""
    try:
        if succeeded:
            _quota.commit(reservation_id, part=part)
        else:
            _quota.release(reservation_id, part=part)
    except Exception:  # noqa: BLE001
        logger.exception("quota %s of %s failed", "commit" if succeeded else "release", reservation_id)
