"""`Authorization: Token <key>` for the API. Keys are stored hashed (apps/accounts/services.py)."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.accounts import throttling
from apps.accounts.services import api_token_authenticate


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request):  # type: ignore[no-untyped-def]
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: expected `Token <key>`.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from exc
        # Bad keys count against the address (apps/accounts/throttling.py); a locked address gets 429 for every bad key
        # without another look-up. A valid key (256 random bits: it cannot be guessed) is not checked, so an API
        # request pays no lockout query.
        user = api_token_authenticate(key=key)
        if user is None:
            django_request = request._request
            if throttling.address_is_locked(django_request):
                raise throttling.SignInLocked(django_request)
            if throttling.record_anonymous_failure(django_request, sender=type(self)):
                raise throttling.SignInLocked(django_request)
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API token.")
        return (user, None)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
