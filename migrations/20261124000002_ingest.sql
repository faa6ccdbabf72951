-- The event ingest (server/src/ingest): how much of each run's events.jsonl
-- the tables reflect, and the shape of the checkpoint index.

-- Byte offset into RUN_DIR/events.jsonl just past the last line applied. It
-- commits in the same transaction as the rows those lines produced, so a
-- crash neither applies a line twice nor skips one.
ALTER TABLE runs ADD COLUMN events_offset INTEGER NOT NULL DEFAULT 0;

-- `last` and `best` each name one file that the trainer overwrites in place
-- (checkpoints/last.safetensors, checkpoints/best.safetensors), so each gets
-- one row per run describing the newest write. `periodic` files are kept per
-- epoch and stay unique on the table's UNIQUE (run_id, kind, epoch).
CREATE UNIQUE INDEX checkpoints_one_per_run ON checkpoints (run_id, kind) WHERE kind IN ('last', 'best');
