"""Django settings of the demo shop: the antiscrape lines are ``MIDDLEWARE`` and ``ANTISCRAPE``.

No database: the shop's records are generated at start (``example_apps.shop_data``) and the
demo login is a signed cookie, so the example runs with nothing to migrate.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..shop_config import SECRET_ENV, shop_config
from ..shop_pages import ShopSite

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get(SECRET_ENV) or "example-shop-session-secret"
DEBUG = os.environ.get("SHOP_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
ROOT_URLCONF = "example_apps.django_shop.urls"
INSTALLED_APPS = ["antiscrape.integrations.django.AntiScrapeConfig"]  # system checks
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

SHOP_IDS = os.environ.get("SHOP_IDS", "sequential")
SHOP_SITE = ShopSite(SHOP_IDS, SECRET_KEY)  # type: ignore[arg-type]

MIDDLEWARE = [
    # Sets request.user from the demo session cookie; antiscrape reads the account from it,
    # so it must come first. django.contrib.auth's AuthenticationMiddleware works the same.
    "example_apps.django_shop.session.DemoSessionMiddleware",
    "antiscrape.integrations.django.AntiScrapeMiddleware",
]

# The same keys as antiscrape.toml (loaded from it here, with the id mode applied).
ANTISCRAPE = shop_config(BASE_DIR / "antiscrape.toml", SHOP_SITE)
