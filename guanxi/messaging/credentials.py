"""Channel credentials, encrypted at rest with a key of their business unit.

Each unit's key is derived (HKDF-SHA256) from the install's secret — `GUANXI_CREDENTIALS_KEY` when set,
else `SECRET_KEY` — and the unit id, so a credential copied into another unit's row does not decrypt,
and the database alone (a dump, a replica) reveals no password. Older secrets listed in
`GUANXI_CREDENTIALS_OLD_KEYS` still decrypt while credentials are re-saved under the new one.
"""

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _unit_key(secret: str, unit_id: int) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"guanxi.messaging.credentials",
        info=f"unit:{unit_id}".encode(),
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _keys(unit_id: int) -> MultiFernet:
    current = getattr(settings, "GUANXI_CREDENTIALS_KEY", "") or settings.SECRET_KEY
    older = list(getattr(settings, "GUANXI_CREDENTIALS_OLD_KEYS", []))
    return MultiFernet([_unit_key(secret, unit_id) for secret in [current, *older]])


def encrypt(unit_id: int, secrets: dict[str, Any]) -> str:
    return _keys(unit_id).encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()


def decrypt(unit_id: int, token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(_keys(unit_id).decrypt(token.encode()))
    except InvalidToken:
        raise ImproperlyConfigured(
            "A channel's credentials cannot be decrypted with the configured keys "
            "(GUANXI_CREDENTIALS_KEY / SECRET_KEY changed?): enter them again on the channel page."
        ) from None
