-- Executors hand back an opaque handle (`local:12345`, `slurm:98765`)
-- instead of a pid: a job on another machine has no pid here. Existing pids
-- were local processes, so they become local handles, and a trainer that is
-- still running is adopted after the upgrade as before.
ALTER TABLE runs ADD COLUMN handle TEXT;
UPDATE runs SET handle = 'local:' || pid WHERE pid IS NOT NULL;
ALTER TABLE runs DROP COLUMN pid;

ALTER TABLE evals ADD COLUMN handle TEXT;
UPDATE evals SET handle = 'local:' || pid WHERE pid IS NOT NULL;
ALTER TABLE evals DROP COLUMN pid;

-- Evaluation jobs write DIR/events.jsonl as training runs do, and are
-- followed through it: this is how much of it the evals row reflects.
ALTER TABLE evals ADD COLUMN events_offset INTEGER NOT NULL DEFAULT 0;
