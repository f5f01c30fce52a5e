"""Plugins every test session of Unimanager loads, in both tiers."""

# Every API response a test produces must match the OpenAPI document; one moto server serves the session;
# static files are found once per session, not once per test client.
pytest_plugins = ["tests.openapi_contract", "tests.aws_server", "tests.static_files"]
