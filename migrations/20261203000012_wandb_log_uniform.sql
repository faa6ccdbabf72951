-- advmix's `log_uniform` used to take the values themselves as `min` and
-- `max`; it now means what W&B's does (natural-log exponents), and the old
-- meaning is `log_uniform_values`. Stored specs (compact JSON, as advmix
-- writes them) keep meaning what they meant when they were submitted, so a
-- running bayes sweep or a grown random sweep draws what it drew before.
UPDATE sweeps
SET spec = replace(spec, '"distribution":"log_uniform"', '"distribution":"log_uniform_values"')
WHERE spec LIKE '%"distribution":"log_uniform"%';

UPDATE sweep_changes
SET spec = replace(spec, '"distribution":"log_uniform"', '"distribution":"log_uniform_values"')
WHERE spec LIKE '%"distribution":"log_uniform"%';
