-- The trainer's newest `progress` event of a running run (its JSON line):
-- a gauge overwritten about once a second, so the database keeps one value
-- per run however long the run trains. NULL when the run is not running.
ALTER TABLE runs ADD COLUMN progress TEXT;

-- Every attempt of a run with its span, so that a resumed or requeued run's
-- duration counts all of them. The triggers keep it in step with the runs
-- row whichever code path starts or ends an attempt.
CREATE TABLE attempts (
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    -- How it ended: the run's status then, or `restarted` when the
    -- executor started the job again by itself.
    status      TEXT,
    error       TEXT,
    PRIMARY KEY (run_id, attempt)
);

INSERT INTO attempts (run_id, attempt, started_at, finished_at, status, error)
SELECT id, attempt, started_at, finished_at,
       CASE WHEN finished_at IS NOT NULL THEN status END, CASE WHEN finished_at IS NOT NULL THEN error END
FROM runs WHERE attempt > 0 AND started_at IS NOT NULL;

CREATE TRIGGER attempt_begins AFTER UPDATE OF attempt ON runs
WHEN NEW.attempt > OLD.attempt AND NEW.started_at IS NOT NULL
BEGIN
    UPDATE attempts SET finished_at = NEW.started_at, status = 'restarted', error = NEW.error
    WHERE run_id = NEW.id AND finished_at IS NULL;
    INSERT OR REPLACE INTO attempts (run_id, attempt, started_at) VALUES (NEW.id, NEW.attempt, NEW.started_at);
END;

-- A cluster job that waited in the queue starts its clock when it runs.
CREATE TRIGGER attempt_runs AFTER UPDATE OF started_at ON runs
WHEN NEW.attempt = OLD.attempt AND NEW.started_at IS NOT NULL AND NEW.started_at IS NOT OLD.started_at
BEGIN
    UPDATE attempts SET started_at = NEW.started_at WHERE run_id = NEW.id AND attempt = NEW.attempt AND finished_at IS NULL;
END;

CREATE TRIGGER attempt_ends AFTER UPDATE OF finished_at ON runs
WHEN NEW.finished_at IS NOT NULL AND NEW.finished_at IS NOT OLD.finished_at
BEGIN
    UPDATE attempts SET finished_at = NEW.finished_at, status = NEW.status, error = NEW.error
    WHERE run_id = NEW.id AND attempt = NEW.attempt AND finished_at IS NULL;
END;
