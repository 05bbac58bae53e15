"""The service layer: every job flow, without HTTP. ``batch_service.BatchService`` answers
about jobs (status, list, cancel, results, readiness); ``submit`` accepts new ones
(Idempotency-Key, replay, store, check, register); ``rows`` turns JSON rows into an input
file; ``results`` pages results; ``views`` shapes a job's public status."""
