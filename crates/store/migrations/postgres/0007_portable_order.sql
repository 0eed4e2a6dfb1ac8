-- PostgreSQL dialect of ../sqlite/0007_portable_order.sql (a fresh PostgreSQL database has no
-- rows to number).
ALTER TABLE step_up_methods ADD COLUMN position BIGINT;
