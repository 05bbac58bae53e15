"""The batch job API (FastAPI): routes → ``BatchService`` → Redis job state and storage."""
