-- The synthetic schema of scripts/bench-schema and scripts/bench-rehearsal, loaded by
-- `psql -v n=TABLES -f`: N tables, each with a primary key, one more index, a CHECK constraint
-- and a comment; a view for every 10th table; a foreign key for every 2nd table (to the one
-- before). 5,000 tables make about 5,000 + 5,000 + 5,000 + 2,500 + 500 objects.
SELECT set_config('bench.n', :'n', false);
DO $$
DECLARE n int := current_setting('bench.n')::int;
BEGIN
  FOR i IN 1..n LOOP
    EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, parent int, v text, n numeric CHECK (n >= 0))', i);
    EXECUTE format('CREATE INDEX t%s_v ON t%s (v)', i, i);
    EXECUTE format('COMMENT ON TABLE t%s IS %L', i, 'table number ' || i);
    IF i % 2 = 0 THEN
      EXECUTE format('ALTER TABLE t%s ADD CONSTRAINT t%s_fk FOREIGN KEY (parent) REFERENCES t%s (id)', i, i, i - 1);
    END IF;
    IF i % 10 = 0 THEN
      EXECUTE format('CREATE VIEW v%s AS SELECT id, v FROM t%s WHERE n > 0', i, i);
    END IF;
  END LOOP;
END
$$;
