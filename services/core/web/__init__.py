"""The HTTP toolkit shared by the inference and batch APIs (FastAPI / Starlette).

- ``errors``: ``install_error_handlers(app)`` (the one place an error becomes the JSON
  body), ``error_body``; the error classes themselves live in ``services.core.errors``;
- ``responses``: ``ErrorResponse`` and ``ErrorDocs(meanings, always=())`` for OpenAPI;
- ``bodies``: ``read_json`` / ``parse_json`` / ``is_json`` (415, 422 with field details);
- ``asgi``: ``send_error`` for raw ASGI middlewares, ``StatusSend``;
- ``access_log``: ``AccessLogMiddleware`` (probes and scrapes left out by default);
- ``request_id``, ``limits``, ``auth``, ``fast_json``: request ids, the 413 body limit,
  API-key digests, pydantic-core JSON responses.

The contract-only loader is ``services.core.contract_store`` (it needs MLflow, not HTTP).
"""
