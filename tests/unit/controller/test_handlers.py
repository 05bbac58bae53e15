"""Operator settings the controller hands kopf (pure: no API server)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import kopf
import pytest

from controller import handlers
from controller.runtime import api_client
from controller.settings import ControllerSettings

pytestmark = pytest.mark.unit


def _configured(tick: float) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    runtime = mock.Mock(settings=ControllerSettings(tick_seconds=tick, metrics_port=0))
    handlers.configure(settings, SimpleNamespace(runtime=runtime))
    return settings


def test_a_deletion_during_a_running_tick_is_rechecked_every_tick_not_every_minute() -> None:
    assert _configured(0.3).background.cancellation_polling == 0.3
    assert _configured(10).background.cancellation_polling == 10


def test_the_finalizer_and_storage_live_under_the_api_group() -> None:
    settings = _configured(1)
    assert settings.persistence.finalizer == "mlops.creditrisk.io/finalizer"
    assert settings.peering.standalone
    assert settings.scanning.disabled


def test_reconciles_run_on_controller_workers_threads() -> None:
    settings = kopf.OperatorSettings()
    config = ControllerSettings(tick_seconds=1, metrics_port=0, workers=24)
    handlers.configure(settings, SimpleNamespace(runtime=mock.Mock(settings=config)))
    assert settings.execution.max_workers == 24
    assert ControllerSettings().workers == 8


def test_the_api_client_pools_two_connections_per_worker(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    api = api_client(ControllerSettings(kubeconfig=str(kubeconfig), workers=40))
    assert api.configuration.connection_pool_maxsize == 80
    assert api.configuration.host == "https://127.0.0.1:6443"


@pytest.mark.parametrize(
    ("raw", "token"),
    [
        ("bearer abc.def", "abc.def"),  # kubernetes' in-cluster config (found on kind)
        ("Bearer abc.def", "abc.def"),  # kubeconfig
        ("abc.def", "abc.def"),
        ("", None),
    ],
)
def test_login_sends_the_token_once_whatever_its_scheme_case(raw: str, token: str | None) -> None:
    cfg = SimpleNamespace(
        host="https://10.96.0.1",
        ssl_ca_cert="/ca.crt",
        verify_ssl=True,
        api_key={"authorization": raw},
        cert_file=None,
        key_file=None,
    )
    memo = SimpleNamespace(
        runtime=SimpleNamespace(kube=SimpleNamespace(api=SimpleNamespace(configuration=cfg)))
    )
    info = handlers.login(memo)
    assert info.token == token
    assert info.scheme == ("Bearer" if token else None)


def test_cleanup_drains_the_event_queue_within_the_setting() -> None:
    import asyncio

    config = ControllerSettings(metrics_port=0, events_drain_seconds=1.5)
    runtime = mock.Mock(settings=config)
    asyncio.run(handlers.cleanup(SimpleNamespace(runtime=runtime)))
    runtime.events.stop.assert_called_once_with(1.5)
    registry = handlers.register(kopf.OperatorRegistry(), config)
    found = [h.fn for h in registry._activities.get_all_handlers()]
    assert handlers.cleanup in found
