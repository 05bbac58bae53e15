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
# An idle keep-alive connection is kept this long (uvicorn's default is 5 s). It must
# outlast the idle timeout of the gateway in front (Traefik's default is 90 s): otherwise the
# gateway may send a request on a connection the server is closing at that instant, and the
# applicant gets a 502 from a healthy pod. On shutdown, idle connections close at once.
KEEP_ALIVE_SECONDS = 100


def server_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` shared by every API of the platform."""
    return {
        "http": HTTP_PARSER,
        "loop": EVENT_LOOP,
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    }
