"""The quota backend provisioning calls (``apps.provisioning.hooks``), installed from ``apps.py``."""

from __future__ import annotations

from typing import Any

from apps.quotas import services


class HierarchicalQuotas:
    def reserve(self, *, organization: Any, project: Any, resource_type: str, amounts: dict[str, int],
                platform: Any = None, region: str = "") -> str:
        return services.quota_reserve(organization=organization, project=project, resource_type=resource_type,
                                      amounts=amounts, platform=platform, region=region).id

    def commit(self, reservation_id: str, *, part: dict[str, int]) -> None:
        services.reservation_commit(reservation_id=reservation_id, units=part.get("count"))

    def release(self, reservation_id: str, *, part: dict[str, int]) -> None:
        services.reservation_release(reservation_id=reservation_id, units=part.get("count"))

    def free(self, *, organization: Any, project: Any, resource_type: str, amounts: dict[str, int],
             platform: Any = None, region: str = "") -> None:
        services.usage_free(organization=organization, project=project, resource_type=resource_type, amounts=amounts,
                            platform=platform, region=region)

    def refused(self, *, organization: Any, project: Any, resource_type: str, error: Any) -> None:
        services.quota_refused(organization=organization, project=project, resource_type=resource_type, error=error)
