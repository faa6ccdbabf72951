-- When the trainer wrote each epoch line (Unix seconds, the event's `time`):
-- the order in which runs reached an epoch, which early termination's replay
-- follows to judge them as the live sweep did. NULL for epochs ingested
-- before this column existed; the replay then estimates the time from the
-- run's start and its epochs' durations.
ALTER TABLE epochs ADD COLUMN recorded_at REAL;
