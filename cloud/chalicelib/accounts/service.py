"""Cloud accounts: sign-up (by invitation unless open sign-up is on), login, refresh (single
use; a reused refresh token revokes every refresh token of the account), logout, disable.

Items: `acct#ID/profile`, `email#EMAIL/acct` (uniqueness), `accounts/ID` (the console's list),
`refresh#HASH/token` and its index `acct#ID/refresh#HASH`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from ..audit.log import AuditLog
from ..clock import Clock
from ..errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from ..invitations.registry import InvitationRegistry
from ..storage.items import ItemStore
from . import passwords
from .throttle import LoginThrottle
from .tokens import TokenSigner, new_refresh_token, refresh_token_hash

USER = "user"
RELAY_ADMIN = "relay_admin"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    role: str
    disabled: bool
    created_at: int


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: int
    refresh_token: str
    account: Account


def _email(value: object) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise BadRequest("email must look like name@domain")
    return value.strip().lower()


def _password(value: object) -> str:
    if not isinstance(value, str):
        raise BadRequest("password must be a string")
    if not passwords.MIN_LENGTH <= len(value) <= passwords.MAX_LENGTH:
        raise BadRequest(f"password must be {passwords.MIN_LENGTH} to 1024 characters")
    return value


class AccountService:
    def __init__(
        self,
        items: ItemStore,
        clock: Clock,
        signer: TokenSigner,
        throttle: LoginThrottle,
        invitations: InvitationRegistry,
        audit: AuditLog,
        *,
        open_signup: bool,
        refresh_s: int,
    ) -> None:
        self._items = items
        self._clock = clock
        self._signer = signer
        self._throttle = throttle
        self._invitations = invitations
        self._audit = audit
        self._open_signup = open_signup
        self._refresh_s = refresh_s

    # -- accounts ---------------------------------------------------------------------------

    def get(self, acct: str) -> Account | None:
        item = self._items.get(f"acct#{acct}", "profile")
        if item is None:
            return None
        return Account(
            id=acct,
            email=str(item["email"]),
            role=str(item["role"]),
            disabled=bool(item.get("disabled")),
            created_at=int(item["created_at"]),
        )

    def signup(self, email: object, password: object, invitation: object, address: str) -> Account:
        email_s, password_s = _email(email), _password(password)
        rid = None
        if invitation is not None or not self._open_signup:
            if invitation is None:
                raise Forbidden("sign-up needs an invitation")
            rid = self._invitations.recorder_of(invitation)
            if rid is None:
                raise Forbidden("the invitation is unknown or expired")
        account = self._create(email_s, password_s, USER)
        self._audit.record("signup", acct=account.id, rid=rid, address=address)
        return account

    def _create(self, email: str, password: str, role: str) -> Account:
        acct = "a" + secrets.token_hex(8)
        if not self._items.put(f"email#{email}", "acct", {"acct": acct}, if_absent=True):
            raise Conflict("an account with this email exists")
        now = int(self._clock.now())
        profile = {"email": email, "role": role, "disabled": False, "created_at": now}
        self._items.put(
            f"acct#{acct}", "profile", {**profile, "pw": passwords.hash_password(password)}
        )
        self._items.put("accounts", acct, {"email": email, "role": role, "created_at": now})
        return Account(acct, email, role, False, now)

    def ensure_admin(self, email: str) -> str | None:
        """Create a relay admin with a generated password if the email has no account; returns
        the password (shown once), or None if the account exists."""
        email_s = _email(email)
        if self._items.get(f"email#{email_s}", "acct") is not None:
            return None
        password = passwords.generate_password()
        self._create(email_s, password, RELAY_ADMIN)
        return password

    def list(self) -> list[Account]:
        out = []
        for acct, _ in self._items.query("accounts"):
            account = self.get(acct)
            if account is not None:
                out.append(account)
        return out

    def disable(self, acct: str, address: str, by: str) -> Account:
        if self._items.update(f"acct#{acct}", "profile", {"disabled": True}) is None:
            raise NotFound("no such account")
        self._revoke_refresh_tokens(acct)
        self._audit.record("account_disabled", acct=acct, address=address, detail=f"by {by}")
        account = self.get(acct)
        assert account is not None
        return account

    # -- sessions of the REST API ---------------------------------------------------------

    def login(self, email: object, password: object, address: str) -> TokenPair:
        email_s = _email(email)
        if not isinstance(password, str) or len(password) > passwords.MAX_LENGTH:
            raise BadRequest("password must be a string")
        self._throttle.check(email_s, address)
        index = self._items.get(f"email#{email_s}", "acct")
        profile = None if index is None else self._items.get(f"acct#{index['acct']}", "profile")
        if profile is None or index is None:
            passwords.burn_time(password)
            ok = False
        else:
            ok = passwords.verify_password(str(profile["pw"]), password)
        if not ok or profile is None or index is None:
            self._throttle.failed(email_s, address)
            self._audit.record("login_failed", address=address)
            raise Unauthorized("wrong email or password")
        acct = str(index["acct"])
        if profile.get("disabled"):
            self._audit.record("login_failed", acct=acct, address=address, detail="disabled")
            raise Forbidden("this account is disabled")
        self._audit.record("login", acct=acct, address=address)
        account = self.get(acct)
        assert account is not None
        return self._issue(account)

    def _issue(self, account: Account) -> TokenPair:
        access, expires = self._signer.issue(account.id, account.role)
        refresh, digest = new_refresh_token()
        until = int(self._clock.now()) + self._refresh_s
        self._items.put(
            f"refresh#{digest}", "token", {"acct": account.id, "used": False}, expires_at=until
        )
        self._items.put(f"acct#{account.id}", f"refresh#{digest}", {}, expires_at=until)
        return TokenPair(access, expires, refresh, account)

    def refresh(self, token: object, address: str) -> TokenPair:
        if not isinstance(token, str) or not 20 <= len(token) <= 200:
            raise BadRequest("refresh_token must be a string")
        digest = refresh_token_hash(token)
        used = self._items.update(
            f"refresh#{digest}", "token", {"used": True}, expect={"used": False}
        )
        if used is None:
            stale = self._items.get(f"refresh#{digest}", "token")
            if stale is not None:  # a used token came back: someone holds a copy
                acct = str(stale["acct"])
                self._revoke_refresh_tokens(acct)
                self._audit.record("refresh_reuse", acct=acct, address=address)
            raise Unauthorized("refresh token invalid or already used")
        acct = str(used["acct"])
        self._items.delete(f"acct#{acct}", f"refresh#{digest}")
        account = self.get(acct)
        if account is None or account.disabled:
            raise Forbidden("this account is disabled")
        return self._issue(account)

    def logout(self, token: object, address: str) -> None:
        if not isinstance(token, str) or not 20 <= len(token) <= 200:
            raise BadRequest("refresh_token must be a string")
        digest = refresh_token_hash(token)
        gone = self._items.delete(f"refresh#{digest}", "token")
        if gone is not None:
            self._items.delete(f"acct#{gone['acct']}", f"refresh#{digest}")
            self._audit.record("logout", acct=str(gone["acct"]), address=address)

    def _revoke_refresh_tokens(self, acct: str) -> None:
        for sk, _ in self._items.query(f"acct#{acct}", "refresh#"):
            self._items.delete(f"refresh#{sk.removeprefix('refresh#')}", "token")
            self._items.delete(f"acct#{acct}", sk)

    def authenticate(self, bearer: str | None) -> Account:
        """The live, enabled account behind an `Authorization: Bearer` access token."""
        if not bearer or not bearer.startswith("Bearer "):
            raise Unauthorized("missing bearer token")
        claims = self._signer.verify(bearer.removeprefix("Bearer ").strip())
        account = self.get(claims.acct)
        if account is None or account.disabled:
            raise Unauthorized("account disabled or gone")
        return account
