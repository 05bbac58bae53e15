"""``LeanRoute``: no query string → the endpoint with its defaults, without FastAPI's
parameter solving; a query string → FastAPI's own handler (parsing, 422); same OpenAPI."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse

from services.core.web.lean_route import LeanRoute, lean_endpoint

pytestmark = pytest.mark.unit


def app_with(route_class: type) -> FastAPI:
    router = APIRouter(route_class=route_class)

    @router.post("/score")
    async def score(request: Request, explain: Annotated[bool, Query()] = False) -> Response:
        return JSONResponse({"explain": explain, "path": request.url.path})

    app = FastAPI()
    app.include_router(router)
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_answers_and_document_are_those_of_a_plain_route() -> None:
    from fastapi.routing import APIRoute

    async with client(app_with(LeanRoute)) as lean, client(app_with(APIRoute)) as plain:
        for url in ("/score", "/score?explain=true", "/score?explain=1", "/score?explain=maybe"):
            a, b = await lean.post(url), await plain.post(url)
            assert (a.status_code, a.json()) == (b.status_code, b.json()), url
        assert (await lean.post("/score")).json() == {"explain": False, "path": "/score"}
        assert (await lean.post("/score?explain=maybe")).status_code == 422
        docs = [(await c.get("/openapi.json")).json() for c in (lean, plain)]
        assert docs[0] == docs[1]


def test_only_endpoints_with_nothing_to_solve_are_lean() -> None:
    async def query_only(request: Request, k: int = 1) -> Response:
        return Response()

    async def required(request: Request, k: int) -> Response:
        return Response()

    def sync(request: Request) -> Response:
        return Response()

    async def no_request(k: int = 1) -> Response:
        return Response()

    assert lean_endpoint(query_only)
    assert not lean_endpoint(required)
    assert not lean_endpoint(sync)
    assert not lean_endpoint(no_request)
