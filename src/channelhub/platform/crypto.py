"""Secrets at rest: connection credentials and webhook secrets are stored encrypted.

Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``, with the keys in
``CHANNELHUB_ENCRYPTION_KEY``: a comma-separated list, the first encrypts and all decrypt,
so a key can be rotated by putting the new one first and re-saving (``channelhub
connections rekey``). Without a key, nothing secret can be stored.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from channelhub.platform.errors import ConflictError


class EncryptionNotConfigured(ConflictError):
    code = "encryption_not_configured"


class SecretBox:
    def __init__(self, keys: str | None) -> None:
        self._fernet = (
            MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])
            if keys
            else None
        )

    def _box(self) -> MultiFernet:
        if self._fernet is None:
            raise EncryptionNotConfigured(
                "secrets cannot be stored: set CHANNELHUB_ENCRYPTION_KEY (make one with "
                "`channelhub connections new-key`)"
            )
        return self._fernet

    def seal(self, value: dict[str, Any]) -> bytes:
        return self._box().encrypt(json.dumps(value, sort_keys=True).encode())

    def open(self, sealed: bytes) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._box().decrypt(sealed))
        except InvalidToken as exc:
            raise EncryptionNotConfigured(
                "stored secrets cannot be read with CHANNELHUB_ENCRYPTION_KEY (was the key "
                "that sealed them removed?)"
            ) from exc
        return opened

    def reseal(self, sealed: bytes) -> bytes:
        """The same secret under the newest key."""
        return self._box().rotate(sealed)


def new_key() -> str:
    return Fernet.generate_key().decode()
