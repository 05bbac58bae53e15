"""The Traefik configurations of the mirroring benchmark: plain vs mirroring service."""

from __future__ import annotations

import pytest

from bench.gateway.traefik_config import ENTRYPOINT, dynamic_config, static_args

pytestmark = pytest.mark.unit

STABLE, CANARY = "http://127.0.0.1:8001", "http://127.0.0.1:8002"


def test_plain_routes_everything_to_stable_and_knows_no_canary() -> None:
    config = dynamic_config("plain", STABLE, CANARY)
    router = config["http"]["routers"]["predict"]
    assert router["service"] == "stable"
    assert router["entryPoints"] == [ENTRYPOINT]
    services = config["http"]["services"]
    assert set(services) == {"stable"}
    assert services["stable"]["loadBalancer"]["servers"] == [{"url": STABLE}]


def test_mirror_answers_from_stable_and_copies_percent_to_canary() -> None:
    config = dynamic_config("mirror", STABLE, CANARY, percent=100)
    services = config["http"]["services"]
    target = config["http"]["routers"]["predict"]["service"]
    mirroring = services[target]["mirroring"]
    assert mirroring["service"] == "stable"
    assert mirroring["mirrors"] == [{"name": "canary", "percent": 100}]
    assert services["stable"]["loadBalancer"]["servers"] == [{"url": STABLE}]
    assert services["canary"]["loadBalancer"]["servers"] == [{"url": CANARY}]


def test_the_two_configurations_share_the_router_rule() -> None:
    plain = dynamic_config("plain", STABLE, CANARY)["http"]["routers"]["predict"]
    mirror = dynamic_config("mirror", STABLE, CANARY, percent=10)["http"]["routers"]["predict"]
    assert {k: v for k, v in plain.items() if k != "service"} == {
        k: v for k, v in mirror.items() if k != "service"
    }


@pytest.mark.parametrize("percent", [-1, 101])
def test_percent_outside_0_100_is_refused(percent: int) -> None:
    with pytest.raises(ValueError, match="percent"):
        dynamic_config("mirror", STABLE, CANARY, percent=percent)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        dynamic_config("split", STABLE, CANARY)  # type: ignore[arg-type]


def test_static_args_listen_on_loopback_and_read_the_file() -> None:
    args = static_args(9000, "/tmp/dyn.yml")
    assert f"--entryPoints.{ENTRYPOINT}.address=127.0.0.1:9000" in args
    assert "--providers.file.filename=/tmp/dyn.yml" in args
    assert "--global.sendAnonymousUsage=false" in args


def test_the_sink_counts_as_an_inference_pod_does() -> None:
    """``bench_mirror.received`` reads the sink's count like an inference pod's."""
    from bench.gateway.bench_mirror import predict_requests
    from bench.gateway.sink import content_length, exposition

    head, _, body = exposition(7).partition(b"\r\n\r\n")
    assert content_length(head) == len(body)
    assert predict_requests(body.decode()) == 7
    assert content_length(b"POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 12") == 12
    assert content_length(b"GET /metrics HTTP/1.1\r\nHost: x") == 0
