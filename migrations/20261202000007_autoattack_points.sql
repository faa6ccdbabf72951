-- Which evaluation stands behind runs.autoattack_acc: results tables average
-- only AutoAttack figures of the same suite on the same number of points.
ALTER TABLE runs ADD COLUMN autoattack_n INTEGER;
ALTER TABLE runs ADD COLUMN autoattack_suite TEXT;
UPDATE runs SET (autoattack_n, autoattack_suite) = (
    SELECT e.n, e.suite FROM evals e
    WHERE e.run_id = runs.id AND e.status = 'succeeded' AND e.suite IN ('aa-fast', 'aa-standard')
      AND abs(e.epsilon - json_extract(runs.config, '$.epsilon')) < 1e-9
    ORDER BY e.epoch DESC, e.suite = 'aa-standard' DESC, e.id DESC LIMIT 1)
WHERE autoattack_acc IS NOT NULL;
