"""Who may call cloudsim: AccessKey pairs, the Apsara Stack organization and resource sets an AccessKey
belongs to, and the temporary (STS) credentials that ``AssumeRole`` issues.

An AccessKey of an Alibaba Cloud account (``organization_id`` empty) needs no Apsara headers. An
AccessKey of an Apsara Stack account belongs to one organization and may use that organization's
resource sets; in strict mode every call made with it must name them in ``x-acs-organizationid`` and
``x-acs-resourcegroupid`` (OSS included), as an Apsara Stack's API gateway requires. Temporary
credentials carry the account of the AccessKey that assumed the role and end at their expiry.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import CloudError, missing

ORGANIZATION_HEADER = "x-acs-organizationid"
RESOURCE_SET_HEADER = "x-acs-resourcegroupid"
REGION_HEADER = "x-acs-regionid"
TOKEN_HEADER = "x-acs-security-token"
ROLE_ARN_RE = re.compile(r"^acs:ram::\d{1,32}:role/[A-Za-z0-9.@_-]{1,64}$")
STS_MIN_SECONDS, STS_MAX_SECONDS = 900, 43_200


@dataclass(frozen=True)
class Account:
    access_key_id: str
    secret: str
    organization_id: str = ""  # "" : an Alibaba Cloud account, no Apsara headers needed
    resource_sets: tuple[str, ...] = ()

    @property
    def is_apsara(self) -> bool:
        return bool(self.organization_id)


@dataclass
class TemporaryKey:
    access_key_id: str
    secret: str
    token: str
    expires_at: float
    account: Account
    role_arn: str = ""
    uses: int = field(default=0)


class Accounts:
    """The AccessKeys cloudsim knows and the temporary credentials it has issued."""

    def __init__(self, keys: list[Account], organizations: dict[str, tuple[str, ...]]):
        self.keys = {k.access_key_id: k for k in keys}
        self.organizations = organizations
        self.temporary: dict[str, TemporaryKey] = {}
        self.issued = 0
        self.token_seconds: float | None = None  # set by /_cloudsim/config to issue short-lived tokens
        self._lock = threading.Lock()

    # -- lookup --------------------------------------------------------------------------------------

    def secret_for(self, access_key_id: str) -> str | None:
        key = self.keys.get(access_key_id)
        if key is not None:
            return key.secret
        temp = self.temporary.get(access_key_id)
        return temp.secret if temp is not None else None

    def secrets(self) -> dict[str, str]:
        """Every AccessKey id with its secret (OSS verifies against this map)."""
        with self._lock:
            return {**{k: a.secret for k, a in self.keys.items()},
                    **{k: t.secret for k, t in self.temporary.items()}}

    def account_for(self, access_key_id: str, token: str | None, now: float | None = None) -> Account:
        """The account a signed request acts for, checking its security token when the key is temporary."""
        now = time.time() if now is None else now
        key = self.keys.get(access_key_id)
        if key is not None:
            if token:
                raise CloudError("InvalidSecurityToken.MismatchWithAccessKey",
                                 "The security token does not belong to the AccessKey.")
            return key
        temp = self.temporary.get(access_key_id)
        if temp is None:
            raise CloudError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        if not token:
            raise CloudError("InvalidSecurityToken.Malformed", "The security token is missing or malformed.")
        if not secrets.compare_digest(token, temp.token):
            raise CloudError("InvalidSecurityToken.MismatchWithAccessKey",
                             "The security token does not belong to the AccessKey.")
        if now >= temp.expires_at:
            raise CloudError("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
        temp.uses += 1
        return temp.account

    # -- STS -----------------------------------------------------------------------------------------

    def assume_role(self, account: Account, role_arn: str, session_name: str, duration: int,
                    now: float | None = None) -> TemporaryKey:
        if not ROLE_ARN_RE.match(role_arn or ""):
            raise CloudError("InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
        if not re.fullmatch(r"[A-Za-z0-9.@_-]{2,64}", session_name or ""):
            raise CloudError("InvalidParameter.RoleSessionName", "The parameter RoleSessionName is wrongly formed.")
        if not STS_MIN_SECONDS <= duration <= STS_MAX_SECONDS:
            raise CloudError("InvalidParameter.DurationSeconds",
                             f"The Min/Max value of DurationSeconds is {STS_MIN_SECONDS}/{STS_MAX_SECONDS} seconds.")
        now = time.time() if now is None else now
        lifetime = self.token_seconds if self.token_seconds is not None else duration
        temp = TemporaryKey(access_key_id="STS." + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y"),
                            secret=secrets.token_urlsafe(30), token=secrets.token_urlsafe(96),
                            expires_at=now + lifetime, account=account, role_arn=role_arn)
        with self._lock:
            for stale in [k for k, t in self.temporary.items() if t.expires_at < now - 3600]:
                del self.temporary[stale]
            self.temporary[temp.access_key_id] = temp
            self.issued += 1
        return temp

    # -- Apsara Stack headers ------------------------------------------------------------------------

    def check_apsara(self, account: Account, headers: dict[str, list[str]], error: Any = CloudError) -> None:
        """Refuse a call of an Apsara Stack account that does not name its organization and resource set."""
        if not account.is_apsara:
            return
        organization = (headers.get(ORGANIZATION_HEADER) or [""])[0].strip()
        if not organization:
            raise _as(error, missing(ORGANIZATION_HEADER))
        if organization != account.organization_id:
            raise _as(error, CloudError("Forbidden.RAM", f"The AccessKey does not belong to organization "
                                        f"{organization}; it may act only in its own organization.", 403))
        resource_set = (headers.get(RESOURCE_SET_HEADER) or [""])[0].strip()
        if not resource_set:
            raise _as(error, missing(RESOURCE_SET_HEADER))
        allowed = account.resource_sets or self.organizations.get(account.organization_id, ())
        if resource_set not in allowed:
            raise _as(error, CloudError("InvalidResourceGroup.NotFound",
                                        f"The resource set {resource_set} does not exist in organization "
                                        f"{organization}.", 404))

    def statistics(self) -> dict[str, Any]:
        now = time.time()
        with self._lock:
            return {"issued": self.issued, "live": sum(1 for t in self.temporary.values() if t.expires_at > now),
                    "token_seconds": self.token_seconds}


def _as(error: Any, base: CloudError) -> CloudError:
    """The same refusal in the error class of the protocol (OpenAPI JSON or OSS XML)."""
    return base if error is CloudError else error(base.code, base.message, base.status)
