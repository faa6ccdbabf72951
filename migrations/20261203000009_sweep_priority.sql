-- A sweep's priority: given to every run it queues (its first runs, a
-- grow's, a bayes sweep's later proposals), so that one change reorders the
-- whole sweep against other work.
ALTER TABLE sweeps ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
