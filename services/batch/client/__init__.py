"""The client side: ``http.BatchClient`` (a small HTTP client of the job API) and the
``submit``/``status``/``results`` commands built on it (``commands``)."""
