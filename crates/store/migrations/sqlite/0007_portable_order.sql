-- Step-up methods keep the order they were offered in a column of their own (they were ordered
-- by SQLite's rowid, which PostgreSQL does not have).
ALTER TABLE step_up_methods ADD COLUMN position INTEGER;
UPDATE step_up_methods SET position = rowid;
