"""Starts a server process of the integration tier with the OpenAPI response checker installed.

``python -m tests.integration.checked_server daphne <daphne arguments>`` or
``python -m tests.integration.checked_server manage.py <command> <arguments>``: the checker of
``tests.openapi_contract`` wraps Django's request handling in this process, and every API response
that the document does not describe is appended to the file named by ``UNIMANAGER_CONTRACT_LOG``.
"""

from __future__ import annotations

import runpy
import sys

from tests import openapi_contract


def main() -> None:
    target, *rest = sys.argv[1:]
    openapi_contract.install()
    if target.endswith(".py"):
        sys.argv = [target, *rest]
        runpy.run_path(target, run_name="__main__")
    else:
        sys.argv = [target, *rest]
        runpy.run_module(target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
