"""Demo data of the clouds app: the simulated Apsara Stack region started beside the console."""

from __future__ import annotations

import os

from apps.core.demo import register_demo

SIM_PORT = int(os.environ.get("UNIMANAGER_CLOUDSIM_PORT", "9100"))
SIM_NAME = "Apsara Stack (simulated)"


@register_demo(order=300)
def seed_simulated_platform() -> None:
    """Register the embedded cloudsim as a platform of the headquarters (idempotent)."""
    from apps.clouds.models import CloudPlatform
    from apps.clouds.secrets import encrypt_json
    from apps.clouds.services import platform_schedule
    from apps.organizations.models import Organization
    from cloudsim.server import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

    owner = Organization.objects.filter(parent__isnull=True).order_by("created_at").first()
    if owner is None or CloudPlatform.objects.filter(name=SIM_NAME).exists():
        return
    platform = CloudPlatform.objects.create(
        organization=owner, type="apsara", name=SIM_NAME, edition="cloudsim", endpoint=f"127.0.0.1:{SIM_PORT}",
        protocol="http", default_region="cn-hangzhou",
        description="A simulated Apsara Stack region served by cloudsim beside the console.",
        credentials_encrypted=encrypt_json({"access_key_id": DEFAULT_ACCESS_KEY_ID,
                                            "access_key_secret": DEFAULT_ACCESS_KEY_SECRET}),
        access_key_hint=f"{DEFAULT_ACCESS_KEY_ID[:4]}…{DEFAULT_ACCESS_KEY_ID[-2:]}", sync_interval_minutes=30,
    )
    platform_schedule(platform)
