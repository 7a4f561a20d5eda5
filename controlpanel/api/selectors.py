from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from controlpanel.api.models import ApiToken


def user_tokens(*, user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """The person's own tokens, in every team: nobody else's are ever listed."""
    return ApiToken.objects.filter(user=user).select_related("team").order_by("revoked_at", "-created_at", "-pk")


def user_token(*, user: AbstractBaseUser, pk: int) -> ApiToken:
    return get_object_or_404(ApiToken, user=user, pk=pk)
