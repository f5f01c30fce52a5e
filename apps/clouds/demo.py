"""Demo data of the clouds app: the simulated Apsara Stack region started beside the console."""

from __future__ import annotations

from django.conf import settings

from apps.core.demo import register_demo

SIM_PORT = settings.CLOUDSIM_PORT
SIM_NAME = "Apsara Stack (simulated)"
# Where the console reaches it: beside the console by default, or a service of its own (docker-compose.yml).
SIM_ENDPOINT = settings.CLOUDSIM_ENDPOINT


@register_demo(order=300)
def seed_simulated_platform() -> None:
    """Register the embedded cloudsim as a platform of the headquarters (idempotent)."""
    from apps.clouds.models import CloudPlatform
    from apps.clouds.secrets import encrypt_json
    from apps.clouds.simulated import sim_connection
    from apps.organizations.models import Organization

    connection = sim_connection()
    key_id = connection["credentials"]["access_key_id"]
    owner = Organization.objects.filter(parent__isnull=True).order_by("created_at").first()
    if owner is None or CloudPlatform.objects.filter(name=SIM_NAME).exists():
        return
    # The inventory app schedules its periodic collection (sync_interval_minutes) when the row is saved.
    CloudPlatform.objects.create(
        organization=owner, type="apsara", name=SIM_NAME, edition="cloudsim", endpoint=SIM_ENDPOINT,
        protocol="http", default_region="cn-hangzhou",
        description="A simulated Apsara Stack region served by cloudsim beside the console.",
        apsara_organization_id=connection["organization_id"], apsara_resource_set_id=connection["resource_set_id"],
        credentials_encrypted=encrypt_json(connection["credentials"]),
        access_key_hint=f"{key_id[:4]}…{key_id[-2:]}", sync_interval_minutes=30,
    )
