"""Password rules after NIST SP 800-63B, hashing, one-time passwords (no database needed)."""
from __future__ import annotations

import pytest

from survey.staff import accounts


@pytest.mark.parametrize("password", [
    "short pass",  # 10 characters
    "password1234",  # on the list
    "Anhyeuem123456",  # on the list, whatever the case
    "matkhau2026!!!!",  # a listed word with digits and symbols added is as weak
    "qwertyuiop123",
    "nguyen.van.a-2026",  # contains the log-in name
])
def test_weak_passwords_are_refused(password):
    assert accounts.password_problems(password, login="nguyen.van.a")


@pytest.mark.parametrize("password", [
    "ba con mèo nhảy qua hàng rào",  # a passphrase, diacritics welcome
    "correct horse staple",
    "xanh lá cây và vàng",  # no digit, no capital, no symbol: no composition rules
    "a" * 12 + "b",
])
def test_long_uncommon_passwords_are_accepted(password):
    assert accounts.password_problems(password, login="nguyen.van.a") == []


def test_length_limits_name_the_numbers():
    (problem,) = accounts.password_problems("abcxyz12", login="nguyen.van.a")
    assert "12" in problem and "8" in problem
    assert accounts.password_problems("a b" * 50, login="x")  # 150 characters


def test_the_bundled_list_is_large_and_lower_case():
    common = accounts.common_passwords()
    assert len(common) > 4000
    assert {"123456789012", "matkhau123", "qwertyuiop", "iloveyou"} <= common
    assert all(p == p.lower() for p in common)


def test_one_time_passwords_are_random_and_pass_the_rules():
    seen = {accounts.generate_password() for _ in range(50)}
    assert len(seen) == 50
    for p in seen:
        assert len(p) == 19 and p.count("-") == 3
        assert accounts.password_problems(p) == []
        assert not set(p.replace("-", "")) & set("01ilo")  # nothing to misread when dictated


def test_hashes_are_scrypt_and_salted():
    a, b = accounts.hash_password("ba con mèo nhảy"), accounts.hash_password("ba con mèo nhảy")
    assert a.startswith("scrypt:") and a != b
