"""Decision-table layouts of earlier releases, for the tests that an existing table keeps
working (``services.core.decisions.store.SCHEMA`` is the current one)."""

# The layout the first releases created (jsonb documents, plain b-tree indexes): such a
# table must keep working with this version's writer, look-ups and export.
FIRST_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    day date NOT NULL,
    decision_id text NOT NULL,
    decided_at timestamptz NOT NULL,
    request_id text,
    item integer,
    job_id text,
    row_index bigint,
    caller text NOT NULL DEFAULT '',
    model_name text NOT NULL,
    model_version text NOT NULL,
    track text NOT NULL,
    inputs jsonb,
    inputs_hash text,
    probability double precision NOT NULL,
    prediction smallint NOT NULL,
    risk_band text NOT NULL,
    threshold double precision NOT NULL,
    reasons jsonb NOT NULL DEFAULT '[]',
    baseline jsonb,
    PRIMARY KEY (day, decision_id)
) PARTITION BY RANGE (day);
CREATE INDEX IF NOT EXISTS {table}_request_id ON {table} (request_id);
CREATE INDEX IF NOT EXISTS {table}_decided_at ON {table} (decided_at);
CREATE INDEX IF NOT EXISTS {table}_job ON {table} (job_id, row_index);
"""
