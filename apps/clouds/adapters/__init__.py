"""Cloud adapters, registered by type name (``apsara``, ``aws``, ...).

``adapter_for(platform)`` builds the adapter of a registered platform with its decrypted
credentials and its connection settings; ``register_adapter`` lets a further module add a cloud type.
"""

from __future__ import annotations

from typing import Any

from apps.clouds.adapters.base import CloudAdapter, CloudCallError

_registry: dict[str, type[CloudAdapter]] = {}


def register_adapter(cls: type[CloudAdapter]) -> type[CloudAdapter]:
    _registry[cls.type_name] = cls
    return cls


def _load_builtin() -> None:
    if not _registry:
        from apps.clouds.adapters import apsara, aws  # noqa: F401  (they register themselves)


def adapter_types() -> dict[str, type[CloudAdapter]]:
    _load_builtin()
    return dict(_registry)


def adapter_class(type_name: str) -> type[CloudAdapter]:
    _load_builtin()
    try:
        return _registry[type_name]
    except KeyError:
        raise CloudCallError(f"Unknown cloud type {type_name!r}.", code="UnknownCloudType") from None


def adapter_for(platform: Any, *, region: str | None = None, timeout: float | None = None) -> CloudAdapter:
    from apps.clouds.secrets import decrypt_json

    cls = adapter_class(platform.type)
    credentials = decrypt_json(platform.credentials_encrypted)
    if platform.credential_type == "ram_role" and platform.role_arn:
        credentials["role_arn"] = platform.role_arn  # not secret: kept in the clear on the platform
    return cls(endpoint=platform.endpoint, protocol=platform.protocol, region=region or platform.default_region,
               credentials=credentials, options=platform.connection_options(), timeout=timeout)


__all__ = ["CloudAdapter", "CloudCallError", "adapter_class", "adapter_for", "adapter_types", "register_adapter"]
