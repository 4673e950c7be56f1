"""Staff accounts and roles. Every core function checks the caller's role here.

Two roles: ``staff`` (front desk, assistants) label messages, add example questions and
deploy models; ``clinician`` can also approve a new or changed answer text and manage
accounts. Passwords are stored as salted scrypt hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional

from sqlalchemy import func, select

from bot.db import session_scope
from bot.staff.store import StaffUserRow, audit, require_schema, utcnow

STAFF = "staff"
CLINICIAN = "clinician"
ROLES = (STAFF, CLINICIAN)
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 10
# scrypt cost: 16 MiB of memory per check, about 50 ms
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1

PERMISSIONS: Dict[str, FrozenSet[str]] = {
    "read_inbox": frozenset(ROLES),
    "label": frozenset(ROLES),
    "approve_examples": frozenset(ROLES),
    "approve_answer": frozenset({CLINICIAN}),
    "deploy": frozenset(ROLES),
    "manage_users": frozenset({CLINICIAN}),
    "bookings": frozenset(ROLES),
}
REFUSALS = {
    "approve_answer": "Only a clinician can approve a new or changed answer.",
    "manage_users": "Only a clinician can add staff accounts.",
}


class PermissionDenied(PermissionError):
    """The user's role does not allow this; the message says who can."""


class AuthenticationFailed(ValueError):
    """Wrong user name or password (deliberately not saying which)."""


@dataclass(frozen=True)
class User:
    username: str
    role: str


def require(user: Optional[User], permission: str) -> User:
    """Return the user if their role grants ``permission``; raise PermissionDenied otherwise."""
    if user is None:
        raise PermissionDenied("Please log in first.")
    if user.role not in PERMISSIONS[permission]:
        raise PermissionDenied(REFUSALS.get(permission, "Your role does not allow this."))
    return user


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, dklen=32)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n),
                            r=int(r), p=int(p), dklen=len(expected))
    return hmac.compare_digest(actual, expected)


# A hash to check against when the user does not exist, so both cases take the same time.
_DUMMY_HASH: List[str] = []


def authenticate(url: Optional[str], username: str, password: str) -> User:
    require_schema(url)
    with session_scope(url) as session:
        row = session.execute(
            select(StaffUserRow).where(StaffUserRow.username == username.strip().lower())
        ).scalars().first()
        if row is None:
            if not _DUMMY_HASH:
                _DUMMY_HASH.append(hash_password(secrets.token_hex(8)))
            check_password(password, _DUMMY_HASH[0])
            raise AuthenticationFailed("Wrong user name or password.")
        if not check_password(password, row.password_hash):
            raise AuthenticationFailed("Wrong user name or password.")
        return User(row.username, row.role)


def user_count(url: Optional[str]) -> int:
    require_schema(url)
    with session_scope(url) as session:
        return int(session.execute(select(func.count(StaffUserRow.id))).scalar_one())


def add_user(url: Optional[str], actor: Optional[User], username: str, role: str,
             password: str) -> User:
    """Create an account. The very first account needs no login; later ones need a clinician."""
    require_schema(url)
    if user_count(url) > 0:
        require(actor, "manage_users")
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise ValueError("User names are 2-32 characters: lower-case letters, digits, '.', '_', '-'.")
    if role not in ROLES:
        raise ValueError(f"The role must be one of: {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"Passwords need at least {MIN_PASSWORD} characters.")
    by = actor.username if actor else "(first account)"
    with session_scope(url) as session:
        exists = session.execute(
            select(StaffUserRow.id).where(StaffUserRow.username == username)
        ).first()
        if exists:
            raise ValueError(f"There is already an account called {username!r}.")
        session.add(StaffUserRow(username=username, role=role, password_hash=hash_password(password),
                                 created_at=utcnow(), created_by=by))
        audit(session, by, "add_user", username, role=role)
    return User(username, role)


def list_users(url: Optional[str]) -> List[User]:
    require_schema(url)
    with session_scope(url) as session:
        rows = session.execute(select(StaffUserRow).order_by(StaffUserRow.username)).scalars()
        return [User(r.username, r.role) for r in rows]
