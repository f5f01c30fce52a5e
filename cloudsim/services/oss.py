"""OSS bucket API (placeholder)."""


def is_oss_request(headers, path: str) -> bool:
    return False


def handle(handler, url, body, request_id) -> None:
    raise NotImplementedError
