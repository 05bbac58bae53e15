"""The webhook adapter: signed JSON POSTs with a timeout and retries.

``call_due`` calls the gating hooks ``rollout.due.hooks_due`` names and returns their
answers for ``Readings.hooks``; ``fire`` sends one fire-once hook (best effort). A call is
up to ``1 + retries`` attempts: a 2xx passes; a timeout, a connection error, 408, 429 or
5xx is retried after a short back-off; any other answer (e.g. 403 from a confirm hook
that says "not yet") is final. Nothing logged or recorded contains the URL or a key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from loguru import logger

import controller.metrics as own_metrics
from controller.kube import Kube
from controller.rollout.due import hooks_due
from controller.rollout.readings import HookResult
from controller.rollout.webhooks import payload
from controller.secrets import SecretError, secret_value
from controller.spec import RolloutSpec, Webhook
from controller.status import RolloutStatus

SIGNATURE_HEADER = "X-CreditRisk-Signature"
TIMESTAMP_HEADER = "X-CreditRisk-Timestamp"
HOOK_HEADER = "X-CreditRisk-Webhook"
RETRIED = frozenset({408, 429})
MAX_BACKOFF = 5.0


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    key: bytes, timestamp: str, body: bytes, signature: str, now: float, tolerance: float = 300
) -> bool:
    """What a receiver does: same HMAC, constant-time compare, timestamp within tolerance."""
    try:
        fresh = abs(now - float(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(key, timestamp, body), signature)


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


class HookClient:
    """POSTs one hook with retries; ``sleep`` and ``clock`` are injectable for tests."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client or httpx.Client(follow_redirects=False)
        self.backoff, self.sleep, self.clock = backoff, sleep, clock

    def call(
        self, hook: Webhook, body: bytes, key: bytes | None = None, timeout: float | None = None
    ) -> HookResult:
        code: int | None = None
        message = ""
        attempts = 0
        for attempt in range(hook.retries + 1):
            if attempt:
                self.sleep(min(MAX_BACKOFF, self.backoff * 2 ** (attempt - 1)))
            attempts += 1
            headers = {"Content-Type": "application/json", HOOK_HEADER: hook.type}
            if key is not None:
                stamp = str(int(self.clock()))
                headers[TIMESTAMP_HEADER] = stamp
                headers[SIGNATURE_HEADER] = sign(key, stamp, body)
            try:
                answer = self.client.post(
                    hook.url, content=body, headers=headers, timeout=timeout or hook.timeout
                )
            except httpx.TimeoutException as exc:
                code, message = None, f"timeout ({type(exc).__name__})"
                continue
            except httpx.HTTPError as exc:  # connection refused, DNS, protocol
                code, message = None, f"no answer ({type(exc).__name__})"
                continue
            code, message = answer.status_code, f"HTTP {answer.status_code}"
            if 200 <= code < 300:
                return HookResult(ok=True, attempts=attempts, code=code, message="")
            if code < 500 and code not in RETRIED:
                break
        return HookResult(ok=False, attempts=attempts, code=code, message=message)


def hook_key(kube: Kube, namespace: str, hook: Webhook) -> bytes | None:
    """The hook's HMAC key (raises SecretError), or None when it has no ``secretRef``."""
    ref = hook.secret_ref
    return None if ref is None else secret_value(kube, namespace, ref.name, ref.key)


def run(
    client: HookClient,
    kube: Kube,
    name: str,
    namespace: str,
    hook: Webhook,
    status: RolloutStatus,
    now: datetime,
) -> HookResult:
    """One call of ``hook`` about ``status``; counted; never raises."""
    try:
        key = hook_key(kube, namespace, hook)
    except SecretError as exc:
        result = HookResult(ok=False, attempts=0, message=str(exc))
    else:
        body = encode(payload(name, namespace, hook, status, now))
        result = client.call(hook, body, key)
    outcome = "ok" if result.ok else "failed"
    own_metrics.WEBHOOK_CALLS.labels(hook.type, outcome).inc()
    own_metrics.WEBHOOK_ATTEMPTS.labels(hook.type).inc(result.attempts)
    log = logger.info if result.ok else logger.warning
    log(
        "{}/{}: {} webhook {} {} after {} attempt(s){}",
        namespace,
        name,
        hook.type,
        hook.name,
        "passed" if result.ok else "failed",
        result.attempts,
        f": {result.message}" if result.message else "",
    )
    return result


def call_due(
    client: HookClient,
    kube: Kube,
    body: dict[str, Any],
    spec: RolloutSpec,
    status: RolloutStatus,
    now: datetime,
) -> dict[str, HookResult]:
    """Call the gating hooks due now (in spec order) → their answers by name."""
    meta = body["metadata"]
    return {
        hook.name: run(client, kube, meta["name"], meta["namespace"], hook, status, now)
        for hook in hooks_due(spec, status, now)
    }
