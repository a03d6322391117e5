-- One elected scheduler: the process holding this lease fires timers and deadlines. The epoch
-- grows at every change of holder and fences the writes of a holder that lost the lease.
CREATE TABLE scheduler_lease (
    name TEXT PRIMARY KEY,
    holder TEXT,
    epoch BIGINT NOT NULL DEFAULT 0,
    expires_at DOUBLE PRECISION
);
