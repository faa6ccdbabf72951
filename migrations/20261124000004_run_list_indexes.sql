-- The runs table is most often ranked by robust accuracy, overall or within
-- a status; these let the list walk an index instead of sorting every run.
CREATE INDEX runs_by_best ON runs (best_robust_acc, id);
CREATE INDEX runs_by_status_best ON runs (status, best_robust_acc, id);
