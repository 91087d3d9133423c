"""Staff accounts: password hashing and rules, one-time passwords, disable/enable, reset.

Password rules follow NIST SP 800-63B: at least 12 characters, no composition rules, and a
bundled list of common passwords refused (plus the log-in name itself). Hashes are Werkzeug's
scrypt, so no extra dependency is needed.
"""
from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..i18n import _
from ..models import StaffUser

MIN_LENGTH = 12
MAX_LENGTH = 128  # long passphrases are welcome; the cap only bounds hashing work
COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common-passwords.txt"
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
# One-time passwords: 16 characters without look-alikes, in groups of four for reading aloud.
OTP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
HASH_METHOD = "scrypt"


class AccountError(ValueError):
    """A problem the person at the keyboard can fix; the message is already translated."""


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def password_problems(password: str, login: str = "") -> list[str]:
    """Why `password` is refused (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_("Mật khẩu cần ít nhất {n} ký tự (hiện có {m}). Một cụm vài từ dễ nhớ là lựa chọn tốt.",
                          n=MIN_LENGTH, m=len(password)))
    if len(password) > MAX_LENGTH:
        problems.append(_("Mật khẩu dài tối đa {n} ký tự.", n=MAX_LENGTH))
    lowered = password.lower()
    base = re.sub(r"[\W\d_]+$", "", lowered)  # "anhyeuem2026!!" is as weak as "anhyeuem"
    if lowered in common_passwords() or (len(base) >= 4 and base in common_passwords()):
        problems.append(_("Mật khẩu này quá phổ biến và dễ bị đoán. Vui lòng chọn mật khẩu khác."))
    elif login and login.lower() in lowered:
        problems.append(_("Mật khẩu không được chứa tên đăng nhập."))
    return problems


def generate_password() -> str:
    raw = "".join(secrets.choice(OTP_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=HASH_METHOD)


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def normalise_login(login: str) -> str:
    return login.strip().lower()


def by_login(session: Session, login: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.login == normalise_login(login)))


def authenticate(session: Session, login: str, password: str) -> StaffUser | None:
    """The account if the password matches and it is enabled. An unknown log-in costs the same
    hashing time as a known one, so timing does not reveal which log-ins exist."""
    user = by_login(session, login)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def create_user(session: Session, login: str, full_name: str) -> tuple[StaffUser, str]:
    """A new account with a generated one-time password, which must be changed at first log-in."""
    login = normalise_login(login)
    if not LOGIN_RE.match(login):
        raise AccountError(_("Tên đăng nhập gồm 3–64 ký tự: chữ thường không dấu, số, dấu chấm, gạch ngang hoặc gạch dưới."))
    if not full_name.strip():
        raise AccountError(_("Vui lòng nhập họ và tên."))
    if session.scalar(select(func.count()).select_from(StaffUser).where(StaffUser.login == login)):
        raise AccountError(_("Tên đăng nhập “{login}” đã có người dùng.", login=login))
    password = generate_password()
    user = StaffUser(login=login, full_name=full_name.strip()[:200], password_hash=hash_password(password),
                     must_change_password=True, active=True, session_version=1)
    session.add(user)
    session.flush()
    return user, password


def verify(user: StaffUser, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def change_password(session: Session, user: StaffUser, current: str, new: str) -> list[str]:
    """Set a new password chosen by the user; returns the problems instead when refused."""
    if not verify(user, current):
        return [_("Mật khẩu hiện tại không đúng.")]
    problems = password_problems(new, user.login)
    if not problems and check_password_hash(user.password_hash, new):
        problems.append(_("Mật khẩu mới phải khác mật khẩu hiện tại."))
    if problems:
        return problems
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.password_changed_at = datetime.now(UTC)
    user.session_version += 1  # other sessions of this account end
    return []


def reset_password(session: Session, user: StaffUser) -> str:
    """An administrator's reset: a new one-time password; every live session of the account ends."""
    password = generate_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.password_changed_at = datetime.now(UTC)
    user.session_version += 1
    return password


def set_active(session: Session, user: StaffUser, active: bool) -> None:
    user.active = active
    user.session_version += 1  # a disabled account's live sessions end at their next request


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(StaffUser)) or 0
