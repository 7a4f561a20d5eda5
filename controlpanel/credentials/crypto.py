"""Encryption of vendor API keys at rest: Fernet, through MultiFernet for key rotation.

``settings.FERNET_KEYS`` lists the keys; the first encrypts, every one decrypts. To
rotate, put a new key first and run ``manage.py rotate_fernet``.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """The stored key cannot be read with any configured Fernet key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("FERNET_KEYS holds a value that is not a Fernet key") from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FERNET_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        # No detail: the message must never help recover anything.
        raise DecryptionError("the stored key cannot be decrypted with the configured FERNET_KEYS") from None


def rotate(token: str) -> str:
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("the stored key cannot be decrypted with the configured FERNET_KEYS") from None
