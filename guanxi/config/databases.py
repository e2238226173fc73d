"""DATABASE_URL → Django DATABASES entry, with the options each engine needs."""

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

SUPPORTED_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}


def database_from_url(url: str) -> dj_database_url.DBConfig:
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a database URL Guanxi understands: {error}"
        ) from None
    engine = config.get("ENGINE")
    if engine not in SUPPORTED_ENGINES:
        raise ImproperlyConfigured(
            f"DATABASE_URL uses {str(engine or 'an unknown').rsplit('.', 1)[-1]}; Guanxi runs on sqlite:/// or postgres://"
        )
    if engine == "django.db.backends.sqlite3":
        # One writer at a time: take the write lock at BEGIN so concurrent writers wait
        # (busy timeout) instead of failing with "database is locked" half-way through.
        config["CONN_MAX_AGE"] = 0
        config["CONN_HEALTH_CHECKS"] = False
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;"
            ),
        }
    else:
        config.setdefault("OPTIONS", {})["connect_timeout"] = 5
    return config
