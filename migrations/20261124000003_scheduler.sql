-- Whether the next start of a queued run continues from its checkpoint
-- (the "resume" action) or starts from scratch.
ALTER TABLE runs ADD COLUMN resume INTEGER NOT NULL DEFAULT 0;
