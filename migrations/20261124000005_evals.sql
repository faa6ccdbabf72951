-- Robustness evaluations of checkpoints: a training run's final stage
-- (source 'final', from its events) and evaluation jobs queued from the pages
-- or the API (source 'job', run by the scheduler in the same slots as runs).
CREATE TABLE evals (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    -- The checkpoint row; NULL once it is gone. `last` and `best` rows are
    -- rewritten in place, so `epoch` says which weights were evaluated.
    checkpoint_id   INTEGER REFERENCES checkpoints (id) ON DELETE SET NULL,
    source          TEXT NOT NULL CHECK (source IN ('final', 'job')),
    suite           TEXT NOT NULL CHECK (suite IN ('pgd', 'aa-fast', 'aa-standard')),
    epoch           INTEGER,
    -- NULL until known for a job that uses the run's own ε.
    epsilon         REAL,
    n               INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    -- Progress: after attack `attack_index` of `attack_of`, `robust_left` points remain.
    attack          TEXT,
    attack_index    INTEGER,
    attack_of       INTEGER,
    robust_left     INTEGER,
    clean_acc       REAL,
    robust_acc      REAL,
    attacks         TEXT,                            -- per-attack results, JSON
    slot            TEXT,
    device          TEXT,
    pid             INTEGER,
    error           TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at      TEXT,
    finished_at     TEXT
);
CREATE UNIQUE INDEX evals_final ON evals (run_id, epoch, suite) WHERE source = 'final';
CREATE INDEX evals_run ON evals (run_id, id);
CREATE INDEX evals_queue ON evals (status, id);

-- The epoch of the evaluation behind runs.autoattack_acc, for chart markers.
ALTER TABLE runs ADD COLUMN autoattack_epoch INTEGER;
