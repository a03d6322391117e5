-- Cron schedules, fired by the elected scheduler. A row holds what each fire starts (the
-- workflow's name, version and queue, the encoded arguments and the run's timeout), the
-- cron expression and its time zone, and when it fires next. The scheduler moves
-- next_fire_at forward in the transaction that starts the runs of the fires it passes.
CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    version TEXT NOT NULL,
    queue TEXT NOT NULL,
    input TEXT NOT NULL,
    timeout DOUBLE PRECISION,
    cron TEXT NOT NULL,
    timezone TEXT NOT NULL,
    catch_up TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    next_fire_at DOUBLE PRECISION,
    last_fire_at DOUBLE PRECISION,
    last_run_id TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE paused = 0;
