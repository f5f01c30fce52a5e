from apps.core.demo import register_demo  # noqa: F401
