-- The experiment store. Run directories and their events.jsonl are the
-- source of truth; these tables index them for fast per-run and cross-run
-- queries.

CREATE TABLE sweeps (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    spec        TEXT NOT NULL,                       -- the submitted spec, JSON
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'done', 'cancelled')),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE runs (
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
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'stopped', 'lost')),
    priority        INTEGER NOT NULL DEFAULT 0,
    slot            TEXT,
    device          TEXT,
    pid             INTEGER,
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
    autoattack_acc  REAL
);
CREATE INDEX runs_by_status ON runs (status, priority DESC, id);
CREATE INDEX runs_by_sweep ON runs (sweep_id, id);
CREATE INDEX runs_by_method ON runs (method, id);

-- One row per run and epoch; the columns are protocol::events::EpochMetrics.
CREATE TABLE epochs (
    run_id              INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch               INTEGER NOT NULL,
    lr                  REAL NOT NULL,
    train_loss          REAL NOT NULL,
    train_acc           REAL NOT NULL,
    train_clean_loss    REAL NOT NULL,
    train_clean_acc     REAL NOT NULL,
    test_clean_loss     REAL NOT NULL,
    test_clean_acc      REAL NOT NULL,
    test_pgd_loss       REAL NOT NULL,
    test_pgd_acc        REAL NOT NULL,
    epoch_seconds       REAL NOT NULL,
    images_per_second   REAL NOT NULL,
    PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch       INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('last', 'best', 'periodic')),
    path        TEXT NOT NULL,                       -- relative to the run directory
    bytes       INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (run_id, kind, epoch)
);

CREATE TABLE samples (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch   INTEGER NOT NULL,
    path    TEXT NOT NULL,
    UNIQUE (run_id, epoch)
);

CREATE TABLE run_tags (
    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    PRIMARY KEY (run_id, tag)
) WITHOUT ROWID;
CREATE INDEX run_tags_by_tag ON run_tags (tag, run_id);
