"""Test settings: fast hasher, memory cache, tasks run immediately.

TEST_DATABASE_URL=postgres://… runs the suite on PostgreSQL; the default is SQLite in memory.
"""

import os

from guanxi.config.databases import database_from_url
from guanxi.config.settings import *  # noqa: F403

DATABASES = {"default": database_from_url(os.environ.get("TEST_DATABASE_URL", "sqlite://:memory:"))}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"].pop("init_command")  # WAL does not apply to an in-memory database
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
HUEY = {**HUEY, "immediate": True}  # noqa: F405
LANGUAGE_CODE = "en"
# The local fake gateways listen on 127.0.0.1; the SSRF tests switch this off again.
GUANXI_ALLOW_PRIVATE_GATEWAYS = True
# Links the tests follow back into the app (unsubscribe, gateway callbacks) need an address.
GUANXI_PUBLIC_URL = "http://127.0.0.1:8000"
