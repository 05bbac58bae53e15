"""Read one key of a Secret in the rollout's namespace (webhook HMAC keys, notification
URLs). Errors name the Secret and key, never a value."""

from __future__ import annotations

import base64
import binascii

from controller.kube import SECRETS, Kube, KubeError


class SecretError(Exception):
    """The Secret or its key could not be read (missing, forbidden, not base64)."""


def secret_data(kube: Kube, namespace: str, name: str) -> dict[str, bytes]:
    """All keys of Secret ``name`` (decoded); raises SecretError."""
    try:
        obj = kube.get(SECRETS, namespace, name)
    except KubeError as exc:
        raise SecretError(f"Secret {namespace}/{name}: HTTP {exc.status}") from None
    if obj is None:
        raise SecretError(f"Secret {namespace}/{name} not found")
    try:
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    except (binascii.Error, ValueError):
        raise SecretError(f"Secret {namespace}/{name}: data is not base64") from None


def secret_value(kube: Kube, namespace: str, name: str, key: str) -> bytes:
    data = secret_data(kube, namespace, name)
    if key not in data or not data[key]:
        raise SecretError(f"Secret {namespace}/{name} has no key {key!r}")
    return data[key]
