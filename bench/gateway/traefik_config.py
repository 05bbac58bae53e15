"""Traefik configuration for the mirroring benchmark: pure renderers, no I/O.

Two proxies are compared, identical but for the service the router points at:

- ``plain``: the router sends every request to the ``stable`` load balancer;
- ``mirror``: the router sends it to a ``mirroring`` service whose main service is
  ``stable`` and which copies ``percent`` % of requests to ``canary`` (the copies' answers
  are discarded), Traefik's equivalent of a Gateway API ``RequestMirror`` filter.
"""

from __future__ import annotations

from typing import Any, Literal

Mode = Literal["plain", "mirror"]
MODES: tuple[Mode, ...] = ("plain", "mirror")
ENTRYPOINT = "web"


def dynamic_config(
    mode: Mode, stable_url: str, canary_url: str, percent: int = 100
) -> dict[str, Any]:
    """The file provider's dynamic configuration (serialise as YAML or JSON)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}, expected one of {MODES}")
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be within 0..100, got {percent}")
    services: dict[str, Any] = {
        "stable": {"loadBalancer": {"servers": [{"url": stable_url}]}},
    }
    target = "stable"
    if mode == "mirror":
        services["canary"] = {"loadBalancer": {"servers": [{"url": canary_url}]}}
        services["shadow"] = {
            "mirroring": {"service": "stable", "mirrors": [{"name": "canary", "percent": percent}]}
        }
        target = "shadow"
    router = {"entryPoints": [ENTRYPOINT], "rule": "PathPrefix(`/`)", "service": target}
    return {"http": {"routers": {"predict": router}, "services": services}}


def static_args(port: int, dynamic_file: str) -> list[str]:
    """Command-line static configuration: one entry point on loopback, the file provider,
    logs at ERROR, no access log, dashboard or phoning home."""
    return [
        f"--entryPoints.{ENTRYPOINT}.address=127.0.0.1:{port}",
        f"--providers.file.filename={dynamic_file}",
        "--providers.file.watch=false",
        "--log.level=ERROR",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
    ]
