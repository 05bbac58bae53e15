"""Batch scoring: a job API and rq workers on Redis that score files of applicants in chunks.

A job's input is split into chunks (row ranges); each chunk is one task on the rq queue, so
any number of workers share a job. Each chunk's results land in their own file, written
atomically, so a killed worker loses no finished chunk and a retried chunk adds no row.
Job state and progress live in Redis; inputs and results live on shared storage.
"""
