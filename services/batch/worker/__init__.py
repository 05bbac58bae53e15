"""The worker side: rq tasks (``tasks``) and the worker process that runs them
(``supervisor``), reading, validating and scoring chunks (``chunk``, ``scoring``),
cutting text or huge inputs into parts (``split``), and the in-process fallback
(``local``). The API never imports this package: tasks are queued by dotted path."""
