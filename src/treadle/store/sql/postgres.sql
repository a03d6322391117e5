-- Named queries for PostgreSQL, under the same names and parameters as SQLite's. Each block starts with a "-- name:" line.
-- Lists arrive as JSON arrays, as on SQLite. They are matched with = ANY (ARRAY(...)), never
-- with IN (SELECT ...): a prepared statement's generic plan guesses 100 rows for the set-
-- returning function and, for IN, joins it against a scan of the whole table (tens of ms
-- on a history of 100,000 rows); = ANY of an array looks each id up in the index.

-- name: create_run
-- The run, its first history row and its task in one statement; when the id is taken,
-- nothing (no row changed).
WITH run AS (
    INSERT INTO runs (id, workflow, version, status, queue, priority, parent_id, parent_position,
                      input, created_at, updated_at, deadline)
    VALUES (%(id)s, %(workflow)s, %(version)s, 'pending', %(queue)s, %(priority)s, %(parent_id)s,
            %(parent_position)s, %(input)s, %(now)s, %(now)s, %(deadline)s)
    ON CONFLICT (id) DO NOTHING
    RETURNING id, queue, priority
), created AS (
    INSERT INTO history (run_id, kind, at, data)
    SELECT id, 'run_created', %(now)s, %(data)s FROM run
)
INSERT INTO tasks (run_id, queue, priority, available_at)
SELECT id, queue, priority, %(now)s FROM run

-- name: get_run
SELECT * FROM runs WHERE id = %(id)s

-- name: get_runs
SELECT * FROM runs WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text(%(ids)s::jsonb)))

-- name: list_runs
SELECT * FROM runs
WHERE (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(workflow)s::text IS NULL OR workflow = %(workflow)s)
  AND (%(parent_id)s::text IS NULL OR parent_id = %(parent_id)s)
  AND (%(before)s::text IS NULL OR id < %(before)s)
ORDER BY id DESC
LIMIT %(limit)s

-- name: count_runs_by_status
SELECT status, count(*) AS n FROM runs GROUP BY status

-- name: unfinished_children
SELECT id FROM runs
WHERE parent_id = %(id)s AND status IN ('pending', 'running', 'waiting')

-- name: insert_event
INSERT INTO history (run_id, kind, at, position, name, attempt, data)
VALUES (%(run_id)s, %(kind)s, %(at)s, %(position)s, %(name)s, %(attempt)s, %(data)s)

-- name: insert_event_fenced
-- FOR SHARE holds the lease until this transaction ends: a claim in flight is waited for and
-- then seen (the epoch moved, nothing is inserted), and a new claim skips the task until the
-- event is committed, so the next owner's replay always reads it. SQLite gets the same from
-- its single writer.
INSERT INTO history (run_id, kind, at, position, name, attempt, data)
SELECT %(run_id)s, %(kind)s, %(at)s, %(position)s, %(name)s, %(attempt)s, %(data)s
WHERE EXISTS (
    SELECT 1 FROM tasks WHERE run_id = %(run_id)s AND epoch = %(epoch)s AND owner = %(owner)s
    FOR SHARE)
ON CONFLICT DO NOTHING

-- name: insert_events_fenced
-- insert_event_fenced for many events at once, a JSON array of its parameters, inserted in
-- the array's order; returns the events it inserted (a caller tells them apart by run, kind
-- and position: a run's events share one lease, so they are all refused or none is, and
-- only a step's result can already be there).
INSERT INTO history (run_id, kind, at, position, name, attempt, data)
SELECT e.run_id, e.kind, e.at, e.position, e.name, e.attempt, e.data
FROM ROWS FROM (jsonb_to_recordset(%(events)s::jsonb) AS (
    run_id TEXT, kind TEXT, at DOUBLE PRECISION, position INTEGER, name TEXT, attempt INTEGER,
    data TEXT, epoch BIGINT, owner TEXT)
) WITH ORDINALITY AS e(run_id, kind, at, position, name, attempt, data, epoch, owner, ord)
WHERE EXISTS (
    SELECT 1 FROM tasks WHERE run_id = e.run_id AND epoch = e.epoch AND owner = e.owner
    FOR SHARE)
ORDER BY e.ord
ON CONFLICT DO NOTHING
RETURNING run_id, kind, position

-- name: history
SELECT * FROM history WHERE run_id = %(run_id)s ORDER BY id

-- name: start_runs
-- The runs of the tasks that claim %(claim)s of %(owner)s leased, unless they finished
-- meanwhile: marked running, each with a run_started event (its worker and new epoch); the
-- claim's other tasks are dropped (a wake-up that raced the run's end: nothing to do, and
-- they must not come back). Returns the runs started, as they are now.
WITH claimed AS (
    SELECT run_id, epoch FROM tasks WHERE owner = %(owner)s AND claim = %(claim)s
), started AS (
    UPDATE runs SET status = 'running', started_at = coalesce(started_at, %(now)s),
                    updated_at = %(now)s
    WHERE id IN (SELECT run_id FROM claimed) AND status IN ('pending', 'waiting', 'running')
    RETURNING runs.*
), recorded AS (
    INSERT INTO history (run_id, kind, at, data)
    SELECT started.id, 'run_started', %(now)s,
           json_build_object('worker', %(owner)s::text, 'epoch', claimed.epoch)::text
    FROM started JOIN claimed ON claimed.run_id = started.id
    ORDER BY started.id
), dropped AS (
    DELETE FROM tasks
    WHERE owner = %(owner)s AND claim = %(claim)s AND run_id NOT IN (SELECT id FROM started)
)
SELECT * FROM started

-- name: histories
-- The histories of the runs the claim started (their tasks are the claim's that are left).
SELECT history.* FROM tasks JOIN history ON history.run_id = tasks.run_id
WHERE tasks.owner = %(owner)s AND tasks.claim = %(claim)s
ORDER BY history.id

-- name: set_status
-- Never moves a finished run: its end may have committed since this transaction looked.
UPDATE runs SET status = %(status)s, updated_at = %(now)s
WHERE id = %(id)s AND status IN ('pending', 'running', 'waiting')

-- name: finish_run
UPDATE runs SET status = %(status)s, result = %(result)s, error = %(error)s, finished_at = %(now)s,
                updated_at = %(now)s
WHERE id = %(id)s AND status IN ('pending', 'running', 'waiting')
RETURNING id, workflow, status, result, error, parent_id, parent_position

-- name: finish_run_fenced
-- A run's end by the worker that holds its lease, in one statement: the final status
-- (the lease checked with the task row held FOR SHARE, as insert_event_fenced does), the
-- event that says so (%(kind)s, %(data)s), its task and timers gone. Returns the run as it
-- ends, or nothing. The deletes see the task row as the update found it: a wake-up that
-- changed it meanwhile only updated it (the run holds its task), which they follow.
WITH finished AS (
    UPDATE runs SET status = %(status)s, result = %(result)s, error = %(error)s,
                    finished_at = %(now)s, updated_at = %(now)s
    WHERE id = %(id)s AND status IN ('pending', 'running', 'waiting')
      AND EXISTS (
        SELECT 1 FROM tasks WHERE run_id = %(id)s AND epoch = %(epoch)s AND owner = %(owner)s
        FOR SHARE)
    RETURNING id, workflow, status, result, error, parent_id, parent_position
), recorded AS (
    INSERT INTO history (run_id, kind, at, data)
    SELECT id, %(kind)s, %(now)s, %(data)s FROM finished
), task AS (
    DELETE FROM tasks WHERE run_id IN (SELECT id FROM finished)
), timers AS (
    DELETE FROM timers WHERE run_id IN (SELECT id FROM finished)
)
SELECT * FROM finished

-- name: reopen_run
UPDATE runs SET status = 'pending', result = NULL, error = NULL, finished_at = NULL,
                updated_at = %(now)s, deadline = %(deadline)s
WHERE id = %(id)s AND status IN ('failed', 'timed_out')

-- name: holds_lease
SELECT 1 AS held FROM tasks WHERE run_id = %(run_id)s AND epoch = %(epoch)s AND owner = %(owner)s

-- name: wake_run
-- FOR SHARE: a cancel committing meanwhile is waited for and then seen (no task for a
-- finished run), and one not yet begun waits for this task, which its delete then sees.
INSERT INTO tasks (run_id, queue, priority, available_at)
SELECT id, queue, priority, %(now)s FROM runs
WHERE id = %(run_id)s AND status IN ('pending', 'running', 'waiting')
FOR SHARE
ON CONFLICT (run_id) DO UPDATE SET wake = 1, available_at = LEAST(tasks.available_at, excluded.available_at)

-- name: claim_tasks
UPDATE tasks SET owner = %(owner)s, lease_until = %(lease_until)s, epoch = epoch + 1, wake = 0,
                 claim = %(claim)s
WHERE run_id IN (
    SELECT run_id FROM tasks
    WHERE queue = ANY (ARRAY(SELECT jsonb_array_elements_text(%(queues)s::jsonb)))
      AND available_at <= %(now)s
      AND (owner IS NULL OR lease_until < %(now)s)
    ORDER BY priority DESC, available_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
RETURNING run_id, epoch

-- name: renew_leases
UPDATE tasks SET lease_until = %(lease_until)s
WHERE owner = %(owner)s AND run_id = ANY (ARRAY(SELECT jsonb_array_elements_text(%(ids)s::jsonb)))

-- name: delete_task
DELETE FROM tasks WHERE run_id = %(run_id)s

-- name: delete_task_unless_woken
DELETE FROM tasks WHERE run_id = %(run_id)s AND epoch = %(epoch)s AND owner = %(owner)s AND wake = 0

-- name: release_task
UPDATE tasks SET owner = NULL, lease_until = NULL, wake = 0, available_at = %(available_at)s
WHERE run_id = %(run_id)s AND epoch = %(epoch)s AND owner = %(owner)s

-- name: release_owner
UPDATE tasks SET owner = NULL, lease_until = NULL, available_at = %(now)s WHERE owner = %(owner)s

-- name: next_task_at
SELECT min(CASE WHEN owner IS NULL THEN available_at ELSE lease_until END) AS at FROM tasks
WHERE queue = ANY (ARRAY(SELECT jsonb_array_elements_text(%(queues)s::jsonb)))

-- name: insert_timer
INSERT INTO timers (run_id, position, fire_at) VALUES (%(run_id)s, %(position)s, %(fire_at)s)
ON CONFLICT DO NOTHING

-- name: delete_timers
DELETE FROM timers WHERE run_id = %(run_id)s

-- name: due_timers
-- SKIP LOCKED: a timer that another tick is firing (a leader paused in the middle of one,
-- whose lease has passed to this one) is its to fire; this tick never waits for it.
SELECT run_id, position FROM timers WHERE fire_at <= %(now)s ORDER BY fire_at LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- name: next_timer_at
SELECT min(fire_at) AS at FROM timers

-- name: delete_timer
DELETE FROM timers WHERE run_id = %(run_id)s AND position = %(position)s

-- name: overdue_runs
-- SKIP LOCKED, as due_timers: a run being changed now is timed out by the next tick.
SELECT id FROM runs
WHERE deadline IS NOT NULL AND deadline <= %(now)s AND status IN ('pending', 'running', 'waiting')
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- name: next_deadline_at
SELECT min(deadline) AS at FROM runs
WHERE deadline IS NOT NULL AND status IN ('pending', 'running', 'waiting')

-- name: get_meta
SELECT value FROM treadle_meta WHERE key = %(key)s

-- name: set_meta
INSERT INTO treadle_meta (key, value) VALUES (%(key)s, %(value)s)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- name: insert_scheduler_lease
-- NOT EXISTS first: ON CONFLICT alone would wait for a transaction that has the row locked.
INSERT INTO scheduler_lease (name, holder, epoch, expires_at)
SELECT %(name)s, NULL, 0, NULL
WHERE NOT EXISTS (SELECT 1 FROM scheduler_lease WHERE name = %(name)s)
ON CONFLICT (name) DO NOTHING

-- name: acquire_scheduler_lease
-- Taken only when nobody holds it or its holder let it expire; each new holder gets a new
-- epoch, the fencing token that its writes are checked against. Nothing here waits on the
-- lease row (SKIP LOCKED): a bid that finds it locked (another bid, a renewal, each one
-- statement) takes nothing and is made again later. No tick holds the row (see
-- holds_scheduler_lease), so a leader paused in the middle of one delays no takeover.
UPDATE scheduler_lease SET holder = %(holder)s, epoch = epoch + 1, expires_at = %(expires_at)s
WHERE name = (
    SELECT name FROM scheduler_lease
    WHERE name = %(name)s AND (holder IS NULL OR expires_at < %(now)s)
    FOR UPDATE SKIP LOCKED)
RETURNING epoch

-- name: renew_scheduler_lease
UPDATE scheduler_lease SET expires_at = %(expires_at)s
WHERE name = (
    SELECT name FROM scheduler_lease
    WHERE name = %(name)s AND holder = %(holder)s AND epoch = %(epoch)s
    FOR UPDATE SKIP LOCKED)

-- name: release_scheduler_lease
UPDATE scheduler_lease SET holder = NULL, expires_at = NULL
WHERE name = %(name)s AND holder = %(holder)s AND epoch = %(epoch)s

-- name: holds_scheduler_lease
-- Read, not locked: a tick that held the row until it committed would keep a paused leader's
-- lease from every bid. A leader that loses the lease in the middle of a tick may still fire
-- what it has taken; each timer, deadline and schedule is taken by one transaction only (its
-- row deleted or locked, the others skip it), so nothing fires twice.
SELECT 1 AS held FROM scheduler_lease
WHERE name = %(name)s AND holder = %(holder)s AND epoch = %(epoch)s AND expires_at >= %(now)s

-- name: get_scheduler_lease
SELECT name, holder, epoch, expires_at FROM scheduler_lease WHERE name = %(name)s

-- name: table_sizes
-- The tables every run writes (housekeeping; PostgreSQL only): their dead and live rows now,
-- how many rows the planner last counted (0 before its first look), and whether each is
-- churned (rows updated and deleted) rather than only appended to.
SELECT s.relname AS name, s.n_dead_tup AS dead, s.n_live_tup AS live,
       greatest(c.reltuples, 0) AS planned, s.relname <> 'history' AS churned
FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
WHERE s.schemaname = current_schema()
  AND s.relname IN ('tasks', 'timers', 'scheduler_lease', 'runs', 'history')

-- name: save_schedule
-- Create or update; an update keeps created_at, paused and the record of the last fire.
INSERT INTO schedules (id, workflow, version, queue, input, timeout, cron, timezone, catch_up,
                       paused, next_fire_at, created_at, updated_at)
VALUES (%(id)s, %(workflow)s, %(version)s, %(queue)s, %(input)s, %(timeout)s, %(cron)s,
        %(timezone)s, %(catch_up)s, 0, %(next_fire_at)s, %(now)s, %(now)s)
ON CONFLICT (id) DO UPDATE SET
    workflow = excluded.workflow, version = excluded.version, queue = excluded.queue,
    input = excluded.input, timeout = excluded.timeout, cron = excluded.cron,
    timezone = excluded.timezone, catch_up = excluded.catch_up,
    next_fire_at = excluded.next_fire_at, updated_at = excluded.updated_at

-- name: get_schedule
SELECT * FROM schedules WHERE id = %(id)s

-- name: get_schedule_for_update
-- Held until the transaction ends, so a scheduler tick and this change take turns.
SELECT * FROM schedules WHERE id = %(id)s FOR UPDATE

-- name: list_schedules
SELECT * FROM schedules ORDER BY id

-- name: set_schedule_paused
UPDATE schedules SET paused = %(paused)s, next_fire_at = %(next_fire_at)s, updated_at = %(now)s
WHERE id = %(id)s

-- name: delete_schedule
DELETE FROM schedules WHERE id = %(id)s

-- name: due_schedules
-- Locked until the tick commits; SKIP LOCKED passes over a schedule a client is changing
-- now (the next tick fires it), so the scheduler never waits on a client.
SELECT * FROM schedules
WHERE paused = 0 AND next_fire_at <= %(now)s
ORDER BY next_fire_at
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- name: advance_schedule
UPDATE schedules SET next_fire_at = %(next_fire_at)s,
                     last_fire_at = coalesce(%(last_fire_at)s, last_fire_at),
                     last_run_id = coalesce(%(last_run_id)s, last_run_id)
WHERE id = %(id)s

-- name: next_schedule_at
SELECT min(next_fire_at) AS at FROM schedules WHERE paused = 0
