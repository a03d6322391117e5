-- The first Treadle schema, for PostgreSQL: the same tables as SQLite's first schema.
CREATE TABLE treadle_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    parent_id TEXT,
    parent_position INTEGER,
    input TEXT NOT NULL,
    result TEXT,
    error TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    updated_at DOUBLE PRECISION NOT NULL,
    deadline DOUBLE PRECISION
);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE INDEX runs_by_workflow ON runs (workflow, id);
CREATE INDEX runs_by_parent ON runs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX runs_by_deadline ON runs (deadline) WHERE deadline IS NOT NULL;

CREATE TABLE history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    position INTEGER,
    name TEXT,
    attempt INTEGER,
    data TEXT
);
CREATE INDEX history_by_run ON history (run_id, id);
-- A step's result is recorded exactly once, whichever worker tries to record it.
CREATE UNIQUE INDEX history_one_result ON history (run_id, position) WHERE kind = 'step_completed';

-- At most one task per run: "advance this run". A worker owns it under a lease; the epoch
-- grows on every claim and fences the writes of a worker that lost its lease.
CREATE TABLE tasks (
    run_id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    available_at DOUBLE PRECISION NOT NULL,
    owner TEXT,
    lease_until DOUBLE PRECISION,
    epoch BIGINT NOT NULL DEFAULT 0,
    wake INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tasks_ready ON tasks (queue, priority DESC, available_at);
CREATE INDEX tasks_by_owner ON tasks (owner) WHERE owner IS NOT NULL;

CREATE TABLE timers (
    run_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    fire_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX timers_due ON timers (fire_at);
