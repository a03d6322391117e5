-- Named queries for SQLite. Each block starts with a "-- name:" line.

-- name: create_run
-- The run, its first history row and its task; when the id is taken, nothing (the last
-- statement changes no row). SQLite has no writable WITH, so: three statements, each
-- going on only if the one before changed a row.
INSERT INTO runs (id, workflow, version, status, queue, priority, parent_id, parent_position,
                  input, created_at, updated_at, deadline)
VALUES (:id, :workflow, :version, 'pending', :queue, :priority, :parent_id, :parent_position,
        :input, :now, :now, :deadline)
ON CONFLICT (id) DO NOTHING;
INSERT INTO history (run_id, kind, at, data)
SELECT :id, 'run_created', :now, :data WHERE changes() = 1;
INSERT INTO tasks (run_id, queue, priority, available_at)
SELECT :id, :queue, :priority, :now WHERE changes() = 1

-- name: get_run
SELECT * FROM runs WHERE id = :id

-- name: get_runs
SELECT * FROM runs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: list_runs
SELECT * FROM runs
WHERE (:status IS NULL OR status = :status)
  AND (:workflow IS NULL OR workflow = :workflow)
  AND (:parent_id IS NULL OR parent_id = :parent_id)
  AND (:before IS NULL OR id < :before)
ORDER BY id DESC
LIMIT :limit

-- name: count_runs_by_status
SELECT status, count(*) AS n FROM runs GROUP BY status

-- name: unfinished_children
SELECT id FROM runs
WHERE parent_id = :id AND status IN ('pending', 'running', 'waiting')

-- name: insert_event
INSERT INTO history (run_id, kind, at, position, name, attempt, data)
VALUES (:run_id, :kind, :at, :position, :name, :attempt, :data)

-- name: insert_event_fenced
INSERT OR IGNORE INTO history (run_id, kind, at, position, name, attempt, data)
SELECT :run_id, :kind, :at, :position, :name, :attempt, :data
WHERE EXISTS (SELECT 1 FROM tasks WHERE run_id = :run_id AND epoch = :epoch AND owner = :owner)

-- name: insert_events_fenced
-- insert_event_fenced for many events at once (see postgres.sql).
INSERT OR IGNORE INTO history (run_id, kind, at, position, name, attempt, data)
SELECT json_extract(value, '$.run_id'), json_extract(value, '$.kind'),
       json_extract(value, '$.at'), json_extract(value, '$.position'),
       json_extract(value, '$.name'), json_extract(value, '$.attempt'),
       json_extract(value, '$.data')
FROM json_each(:events)
WHERE EXISTS (
    SELECT 1 FROM tasks
    WHERE run_id = json_extract(value, '$.run_id') AND epoch = json_extract(value, '$.epoch')
      AND owner = json_extract(value, '$.owner'))
ORDER BY key
RETURNING run_id, kind, position

-- name: history
SELECT * FROM history WHERE run_id = :run_id ORDER BY id

-- name: start_runs
-- The runs of the tasks that claim :claim of :owner leased, unless they finished meanwhile:
-- marked running, each with a run_started event (its worker and new epoch); the claim's
-- other tasks are dropped. The rows are the first statement's: the runs started.
UPDATE runs SET status = 'running', started_at = coalesce(started_at, :now), updated_at = :now
WHERE id IN (SELECT run_id FROM tasks WHERE owner = :owner AND claim = :claim)
  AND status IN ('pending', 'waiting', 'running')
RETURNING *;
INSERT INTO history (run_id, kind, at, data)
SELECT runs.id, 'run_started', :now, json_object('worker', tasks.owner, 'epoch', tasks.epoch)
FROM tasks JOIN runs ON runs.id = tasks.run_id
WHERE tasks.owner = :owner AND tasks.claim = :claim AND runs.status = 'running'
ORDER BY runs.id;
DELETE FROM tasks
WHERE owner = :owner AND claim = :claim
  AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = tasks.run_id AND runs.status = 'running')

-- name: histories
-- The histories of the runs the claim started (their tasks are the claim's that are left).
SELECT history.* FROM tasks JOIN history ON history.run_id = tasks.run_id
WHERE tasks.owner = :owner AND tasks.claim = :claim
ORDER BY history.id

-- name: set_status
UPDATE runs SET status = :status, updated_at = :now WHERE id = :id

-- name: finish_run
UPDATE runs SET status = :status, result = :result, error = :error, finished_at = :now,
                updated_at = :now
WHERE id = :id AND status IN ('pending', 'running', 'waiting')
RETURNING id, workflow, status, result, error, parent_id, parent_position

-- name: finish_run_fenced
-- A run's end by the worker that holds its lease (see postgres.sql), the rows being the
-- first statement's: the event only if it changed the run; a finished run's task and
-- timers go in any case (it needs none).
UPDATE runs SET status = :status, result = :result, error = :error, finished_at = :now,
                updated_at = :now
WHERE id = :id AND status IN ('pending', 'running', 'waiting')
  AND EXISTS (SELECT 1 FROM tasks WHERE run_id = :id AND epoch = :epoch AND owner = :owner)
RETURNING id, workflow, status, result, error, parent_id, parent_position;
INSERT INTO history (run_id, kind, at, data) SELECT :id, :kind, :now, :data WHERE changes() = 1;
DELETE FROM tasks WHERE run_id = :id AND EXISTS (
    SELECT 1 FROM runs WHERE id = :id AND status NOT IN ('pending', 'running', 'waiting'));
DELETE FROM timers WHERE run_id = :id AND EXISTS (
    SELECT 1 FROM runs WHERE id = :id AND status NOT IN ('pending', 'running', 'waiting'))

-- name: reopen_run
UPDATE runs SET status = 'pending', result = NULL, error = NULL, finished_at = NULL,
                updated_at = :now, deadline = :deadline
WHERE id = :id AND status IN ('failed', 'timed_out')

-- name: holds_lease
SELECT 1 AS held FROM tasks WHERE run_id = :run_id AND epoch = :epoch AND owner = :owner

-- name: wake_run
INSERT INTO tasks (run_id, queue, priority, available_at)
SELECT id, queue, priority, :now FROM runs
WHERE id = :run_id AND status IN ('pending', 'running', 'waiting')
ON CONFLICT (run_id) DO UPDATE SET wake = 1, available_at = min(available_at, excluded.available_at)

-- name: claim_tasks
UPDATE tasks SET owner = :owner, lease_until = :lease_until, epoch = epoch + 1, wake = 0,
                 claim = :claim
WHERE run_id IN (
    SELECT run_id FROM tasks
    WHERE queue IN (SELECT value FROM json_each(:queues))
      AND available_at <= :now
      AND (owner IS NULL OR lease_until < :now)
    ORDER BY priority DESC, available_at
    LIMIT :limit)
RETURNING run_id, epoch

-- name: renew_leases
UPDATE tasks SET lease_until = :lease_until
WHERE owner = :owner AND run_id IN (SELECT value FROM json_each(:ids))

-- name: delete_task
DELETE FROM tasks WHERE run_id = :run_id

-- name: delete_task_unless_woken
DELETE FROM tasks WHERE run_id = :run_id AND epoch = :epoch AND owner = :owner AND wake = 0

-- name: release_task
UPDATE tasks SET owner = NULL, lease_until = NULL, wake = 0, available_at = :available_at
WHERE run_id = :run_id AND epoch = :epoch AND owner = :owner

-- name: release_owner
UPDATE tasks SET owner = NULL, lease_until = NULL, available_at = :now WHERE owner = :owner

-- name: next_task_at
SELECT min(CASE WHEN owner IS NULL THEN available_at ELSE lease_until END) AS at FROM tasks
WHERE queue IN (SELECT value FROM json_each(:queues))

-- name: insert_timer
INSERT OR IGNORE INTO timers (run_id, position, fire_at) VALUES (:run_id, :position, :fire_at)

-- name: delete_timers
DELETE FROM timers WHERE run_id = :run_id

-- name: due_timers
SELECT run_id, position FROM timers WHERE fire_at <= :now ORDER BY fire_at LIMIT :limit

-- name: next_timer_at
SELECT min(fire_at) AS at FROM timers

-- name: delete_timer
DELETE FROM timers WHERE run_id = :run_id AND position = :position

-- name: overdue_runs
SELECT id FROM runs
WHERE deadline IS NOT NULL AND deadline <= :now AND status IN ('pending', 'running', 'waiting')
LIMIT :limit

-- name: next_deadline_at
SELECT min(deadline) AS at FROM runs
WHERE deadline IS NOT NULL AND status IN ('pending', 'running', 'waiting')

-- name: get_meta
SELECT value FROM treadle_meta WHERE key = :key

-- name: set_meta
INSERT INTO treadle_meta (key, value) VALUES (:key, :value)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- name: insert_scheduler_lease
INSERT OR IGNORE INTO scheduler_lease (name, holder, epoch, expires_at) VALUES (:name, NULL, 0, NULL)

-- name: acquire_scheduler_lease
-- Taken only when nobody holds it or its holder let it expire; each new holder gets a new
-- epoch, the fencing token that its writes are checked against.
UPDATE scheduler_lease SET holder = :holder, epoch = epoch + 1, expires_at = :expires_at
WHERE name = :name AND (holder IS NULL OR expires_at < :now)
RETURNING epoch

-- name: renew_scheduler_lease
UPDATE scheduler_lease SET expires_at = :expires_at
WHERE name = :name AND holder = :holder AND epoch = :epoch

-- name: release_scheduler_lease
UPDATE scheduler_lease SET holder = NULL, expires_at = NULL
WHERE name = :name AND holder = :holder AND epoch = :epoch

-- name: holds_scheduler_lease
SELECT 1 AS held FROM scheduler_lease
WHERE name = :name AND holder = :holder AND epoch = :epoch AND expires_at >= :now

-- name: get_scheduler_lease
SELECT name, holder, epoch, expires_at FROM scheduler_lease WHERE name = :name

-- name: save_schedule
-- Create or update; an update keeps created_at, paused and the record of the last fire.
INSERT INTO schedules (id, workflow, version, queue, input, timeout, cron, timezone, catch_up,
                       paused, next_fire_at, created_at, updated_at)
VALUES (:id, :workflow, :version, :queue, :input, :timeout, :cron, :timezone, :catch_up,
        0, :next_fire_at, :now, :now)
ON CONFLICT (id) DO UPDATE SET
    workflow = excluded.workflow, version = excluded.version, queue = excluded.queue,
    input = excluded.input, timeout = excluded.timeout, cron = excluded.cron,
    timezone = excluded.timezone, catch_up = excluded.catch_up,
    next_fire_at = excluded.next_fire_at, updated_at = excluded.updated_at

-- name: get_schedule
SELECT * FROM schedules WHERE id = :id

-- name: list_schedules
SELECT * FROM schedules ORDER BY id

-- name: set_schedule_paused
UPDATE schedules SET paused = :paused, next_fire_at = :next_fire_at, updated_at = :now
WHERE id = :id

-- name: delete_schedule
DELETE FROM schedules WHERE id = :id

-- name: due_schedules
SELECT * FROM schedules
WHERE paused = 0 AND next_fire_at <= :now
ORDER BY next_fire_at
LIMIT :limit

-- name: advance_schedule
UPDATE schedules SET next_fire_at = :next_fire_at,
                     last_fire_at = coalesce(:last_fire_at, last_fire_at),
                     last_run_id = coalesce(:last_run_id, last_run_id)
WHERE id = :id

-- name: next_schedule_at
SELECT min(next_fire_at) AS at FROM schedules WHERE paused = 0

-- name: get_schedule_for_update
-- SQLite has one writer at a time: a plain read inside the write transaction is enough.
SELECT * FROM schedules WHERE id = :id
