-- An evaluation job's newest `progress` event (its JSON line), as
-- runs.progress is a training run's: one value per job, overwritten about
-- once a second while it runs.
ALTER TABLE evals ADD COLUMN progress TEXT;

-- Gone once the job is not running, whichever code path settles, requeues or
-- fails it: a finished row must never show a stale bar.
CREATE TRIGGER evals_progress_ends AFTER UPDATE OF status ON evals
WHEN NEW.status != 'running' AND NEW.progress IS NOT NULL
BEGIN
    UPDATE evals SET progress = NULL WHERE id = NEW.id;
END;
