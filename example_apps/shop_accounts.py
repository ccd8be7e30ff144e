"""The demo login: a few fixed accounts and a signed session cookie.

Just enough of a login to hand antiscrape an account id, so budgets *per account* show: a
signed-in scraper is counted as one account however many IPs it rotates through. A real
project keeps its own authentication; only the line that passes the account id to antiscrape
matters (see each example's README).
"""

from __future__ import annotations

import hashlib
import hmac

SESSION_COOKIE = "shop_session"

DEMO_ACCOUNTS: dict[str, str] = {
    "alice": "alice-demo",
    "bob": "bob-demo",
    "carol": "carol-demo",
}
"""Account name -> password. Demo only: printed in the README on purpose."""


def _signature(secret: str, account: str) -> str:
    return hmac.new(secret.encode(), f"session:{account}".encode(), hashlib.sha256).hexdigest()[:32]


def check_password(account: str, password: str) -> bool:
    expected = DEMO_ACCOUNTS.get(account)
    # Compare even for unknown accounts so timing does not tell which names exist.
    return hmac.compare_digest((expected or "\x00").encode(), password.encode()) and bool(expected)


def session_value(secret: str, account: str) -> str:
    return f"{account}.{_signature(secret, account)}"


def account_from_session(secret: str, value: str | None) -> str | None:
    """The account a session cookie names, or None when absent, forged or unknown."""
    if not value or "." not in value or len(value) > 200:
        return None
    account, _, signature = value.rpartition(".")
    if account not in DEMO_ACCOUNTS:
        return None
    if not hmac.compare_digest(signature.encode(), _signature(secret, account).encode()):
        return None
    return account
