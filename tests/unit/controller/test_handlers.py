"""Operator settings the controller hands kopf (pure: no API server)."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import kopf
import pytest

from controller import handlers
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
