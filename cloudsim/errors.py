"""Errors in the shape and with the codes the Alibaba Cloud OpenAPI returns."""

from __future__ import annotations


class CloudError(Exception):
    """An error answered to the client as ``{"RequestId","HostId","Code","Message","Recommend"}``."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def missing(name: str) -> CloudError:
    return CloudError(
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request is not supplied.',
    )


def invalid(name: str, detail: str = "") -> CloudError:
    suffix = f" {detail}" if detail else ""
    return CloudError("InvalidParameter", f'The specified parameter "{name}" is not valid.{suffix}')


def not_found(code: str, what: str) -> CloudError:
    return CloudError(code, f"The specified {what} does not exist.", 404)


def incorrect_status(code: str, what: str, status: str) -> CloudError:
    return CloudError(code, f"The current status of the {what} ({status}) does not support this operation.", 403)
