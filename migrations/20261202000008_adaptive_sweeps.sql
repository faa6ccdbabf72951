-- no-transaction
-- Adaptive sweeps: runs that early termination stopped end as `pruned`,
-- sweeps can be paused, grow, and keep a history of how they changed.
--
-- SQLite cannot change a CHECK constraint in place, so `runs` is rebuilt
-- (SQLite's documented twelve-step procedure). Foreign keys must be off
-- while the old table is dropped, or the drop would cascade into every
-- run's epochs, checkpoints and evaluations; the pragma only takes effect
-- outside a transaction, hence `no-transaction` and the explicit one below.
PRAGMA foreign_keys = OFF;

BEGIN IMMEDIATE;

CREATE TABLE runs_rebuilt (
    id              INTEGER PRIMARY KEY,
    sweep_id        INTEGER REFERENCES sweeps (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    config          TEXT NOT NULL,                   -- fully resolved RunConfig, JSON
    params          TEXT NOT NULL DEFAULT '{}',      -- the swept values only, JSON
    -- Copied out of config so that filters and sorts use indexes, not JSON.
    method          TEXT NOT NULL,
    dataset         TEXT NOT NULL,
    model           TEXT NOT NULL,
    epochs          INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'stopped', 'lost', 'pruned')),
    priority        INTEGER NOT NULL DEFAULT 0,
    slot            TEXT,
    device          TEXT,
    attempt         INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at      TEXT,
    finished_at     TEXT,
    exit_code       INTEGER,
    error           TEXT,
    note            TEXT NOT NULL DEFAULT '',
    -- Summary columns, kept current by the event ingest.
    epochs_done     INTEGER NOT NULL DEFAULT 0,
    best_robust_acc REAL,
    best_epoch      INTEGER,
    final_clean_acc REAL,
    final_robust_acc REAL,
    autoattack_acc  REAL,
    events_offset   INTEGER NOT NULL DEFAULT 0,
    resume          INTEGER NOT NULL DEFAULT 0,
    autoattack_epoch INTEGER,
    handle          TEXT,
    autoattack_n    INTEGER,
    autoattack_suite TEXT,
    -- The cut that early termination made (protocol's `Cut`, JSON), from
    -- the moment it decided: the run is being stopped, and then `pruned`.
    pruned          TEXT,
    -- "Continue anyway": early termination leaves this run alone from now on.
    continued       INTEGER NOT NULL DEFAULT 0,
    -- A bayes sweep's proposal this run belongs to (0-based, in order of proposal).
    proposal        INTEGER
);

INSERT INTO runs_rebuilt (
    id, sweep_id, name, config, params, method, dataset, model, epochs, status, priority, slot, device,
    attempt, created_at, started_at, finished_at, exit_code, error, note, epochs_done, best_robust_acc,
    best_epoch, final_clean_acc, final_robust_acc, autoattack_acc, events_offset, resume, autoattack_epoch,
    handle, autoattack_n, autoattack_suite)
SELECT
    id, sweep_id, name, config, params, method, dataset, model, epochs, status, priority, slot, device,
    attempt, created_at, started_at, finished_at, exit_code, error, note, epochs_done, best_robust_acc,
    best_epoch, final_clean_acc, final_robust_acc, autoattack_acc, events_offset, resume, autoattack_epoch,
    handle, autoattack_n, autoattack_suite
FROM runs;

DROP TABLE runs;
ALTER TABLE runs_rebuilt RENAME TO runs;

CREATE INDEX runs_by_status ON runs (status, priority DESC, id);
CREATE INDEX runs_by_sweep ON runs (sweep_id, id);
CREATE INDEX runs_by_method ON runs (method, id);
CREATE INDEX runs_by_best ON runs (best_robust_acc, id);
CREATE INDEX runs_by_status_best ON runs (status, best_robust_acc, id);

-- Paused: its queued runs wait (and a bayes sweep proposes nothing); running ones go on.
ALTER TABLE sweeps ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;

-- Every change to a sweep after it was created, oldest first.
CREATE TABLE sweep_changes (
    id          INTEGER PRIMARY KEY,
    sweep_id    INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    summary     TEXT NOT NULL,                   -- one line, for the sweep page
    change      TEXT NOT NULL,                   -- what was asked, JSON
    spec        TEXT NOT NULL,                   -- the spec after the change, JSON
    runs_added  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sweep_changes_by_sweep ON sweep_changes (sweep_id, id);

COMMIT;

PRAGMA foreign_keys = ON;
