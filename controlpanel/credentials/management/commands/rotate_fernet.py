from __future__ import annotations

from django.core.management.base import BaseCommand

from controlpanel.credentials import crypto
from controlpanel.credentials.models import ProviderAccount


class Command(BaseCommand):
    help = "Re-encrypt every stored vendor key with the first of FERNET_KEYS (after adding a new one)."

    def handle(self, *args: object, **options: object) -> None:
        count = 0
        for account in ProviderAccount.objects.only("pk", "encrypted_key", "pending_key").iterator():
            values = {"encrypted_key": crypto.rotate(account.encrypted_key)}
            if account.pending_key:  # a new key still being checked is a key too
                values["pending_key"] = crypto.rotate(account.pending_key)
            ProviderAccount.objects.filter(pk=account.pk).update(**values)
            count += 1
        self.stdout.write(f"Re-encrypted {count} key(s) with the current primary Fernet key.")
