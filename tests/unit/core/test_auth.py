"""API-key auth (``services.core.web.auth``): digests normalised and checked, every key
against every digest, the error a client sees, and the key id handed to the request."""

from __future__ import annotations

import hashlib

import pytest
from starlette.requests import Request

from services.core.errors import Forbidden, Unauthorized
from services.core.web.auth import HEADER, ApiKeyAuth, hash_key

pytestmark = pytest.mark.unit

KEY, OTHER, STRANGER = "alpha-key", "beta-key", "not-a-client"
DIGEST = hashlib.sha256(KEY.encode()).hexdigest()
OTHER_DIGEST = hashlib.sha256(OTHER.encode()).hexdigest()


def test_a_key_is_kept_as_its_sha256_hex_digest() -> None:
    assert hash_key(KEY) == DIGEST
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_configured_digest_is_read_whatever_its_case_and_surrounding_blanks() -> None:
    auth = ApiKeyAuth([f"  {DIGEST.upper()}\t "])
    assert auth.digests == [DIGEST]
    assert auth.check(KEY) == DIGEST[:12]


@pytest.mark.parametrize("digests", [[DIGEST[:63]], [DIGEST + "0"], [DIGEST, "abc"], ["", DIGEST]])
def test_a_digest_that_is_not_64_characters_is_refused(digests: list[str]) -> None:
    with pytest.raises(ValueError, match="digests") as refused:
        ApiKeyAuth(digests)
    assert str(refused.value) == "API key digests must be SHA-256 hex (64 characters)"


def test_without_digests_everyone_is_anonymous() -> None:
    auth = ApiKeyAuth([])
    assert auth.check(None) == "anonymous"
    assert auth.check(KEY) == "anonymous"


@pytest.mark.parametrize("presented", [None, ""])
def test_a_missing_key_is_401_naming_the_header_and_the_scheme(presented: str | None) -> None:
    with pytest.raises(Unauthorized) as refused:
        ApiKeyAuth([DIGEST]).check(presented)
    assert refused.value.message == "missing X-API-Key header"
    assert refused.value.headers == {"WWW-Authenticate": "ApiKey"}


def test_an_unknown_key_is_403() -> None:
    with pytest.raises(Forbidden) as refused:
        ApiKeyAuth([DIGEST, OTHER_DIGEST]).check(STRANGER)
    assert refused.value.message == "invalid API key"
    assert refused.value.headers is None


def test_every_configured_key_is_accepted_whichever_digest_it_matches() -> None:
    auth = ApiKeyAuth([DIGEST, OTHER_DIGEST])
    assert auth.check(KEY) == DIGEST[:12]  # matches the first digest, not the last
    assert auth.check(OTHER) == OTHER_DIGEST[:12]  # matches the last, not the first
    with pytest.raises(Forbidden):
        auth.check(DIGEST)  # the digest itself is not a key


def request_with(headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


async def test_the_dependency_reads_the_header_and_hands_the_key_id_to_the_request() -> None:
    auth = ApiKeyAuth([DIGEST])
    request = request_with({HEADER: KEY})
    assert await auth(request) == DIGEST[:12]
    assert request.state.api_key_id == DIGEST[:12]
    with pytest.raises(Unauthorized):
        await auth(request_with({"X-Other": KEY}))
    assert HEADER == "X-API-Key"
