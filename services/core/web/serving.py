"""How the inference and batch APIs run under uvicorn: the server options both use.

HTTP/1.1 is parsed by httptools (llhttp, C; pinned in pyproject's inference and batch
extras), not h11: about a quarter of h11's CPU per request
(bench/results/inference_profile.md). The event loop stays asyncio's own, since the
inference micro-batcher reads its ready queue. Access logs come from our middleware, logs
from loguru (``log_config=None``), and no ``Server`` header names the software.
"""

from __future__ import annotations

from typing import Any

HTTP_PARSER = "httptools"
EVENT_LOOP = "asyncio"


def server_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` shared by every API of the platform."""
    return {
        "http": HTTP_PARSER,
        "loop": EVENT_LOOP,
        "log_config": None,
        "access_log": False,
        "server_header": False,
    }
