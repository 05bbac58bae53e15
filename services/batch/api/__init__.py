"""The batch job API (FastAPI): thin routes that parse HTTP, call the service layer
(``services.batch.service``) and shape responses."""
