"""Typed readers for settings that come from the environment.

Each reader fails loudly (ImproperlyConfigured with the variable's name) instead of
silently falling back, so a typo in production is caught at start-up.
"""

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, default: str) -> str:
    """An absolute http(s) address without a trailing slash, or the default when unset."""
    raw = os.environ.get(name, default).strip()
    if raw and not (raw.startswith(("http://", "https://")) and "://" in raw and raw.split("://", 1)[1]):
        raise ImproperlyConfigured(f"{name} must be an http:// or https:// address, not {raw!r}")
    return raw.rstrip("/")


def guanxi_home() -> Path:
    """The data directory of an embedded install (database, queue, secret key).

    Without GUANXI_HOME it is the user's data directory ($XDG_DATA_HOME/guanxi, else
    ~/.local/share/guanxi), never a path relative to wherever a command happens to run: a relative
    default once wrote the secret key into the source tree, where git picked it up."""
    configured = os.environ.get("GUANXI_HOME")
    if configured:
        home = Path(configured).expanduser().resolve()
    else:
        data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        home = Path(data_home).expanduser().resolve() / "guanxi"
    home.mkdir(parents=True, exist_ok=True)
    return home


def secret_key(home: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in GUANXI_HOME."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = home / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(64))
    return path.read_text().strip()
