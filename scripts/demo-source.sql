-- A small installation for `make demo`: roles with attributes, settings and memberships,
-- and databases with odd names, settings and comments.
CREATE ROLE app_owner NOLOGIN;
COMMENT ON ROLE app_owner IS 'owns the application schema';
CREATE ROLE "app user" LOGIN CONNECTION LIMIT 20 VALID UNTIL '2030-01-01 00:00:00+00' IN ROLE app_owner;
ALTER ROLE "app user" SET statement_timeout = '30s';
ALTER ROLE "app user" SET search_path = app, public;
CREATE ROLE reporting LOGIN NOINHERIT;
GRANT app_owner TO reporting WITH ADMIN OPTION;
CREATE DATABASE shop OWNER app_owner;
COMMENT ON DATABASE shop IS 'the shop';
ALTER DATABASE shop SET work_mem = '8MB';
CREATE DATABASE "Ünïcode db" CONNECTION LIMIT 5;
ALTER ROLE reporting IN DATABASE shop SET default_transaction_read_only = on;
\c shop
CREATE SCHEMA app AUTHORIZATION app_owner;
CREATE TABLE app.items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, price numeric(10,2));
INSERT INTO app.items (name, price) SELECT 'item ' || g, g * 1.5 FROM generate_series(1, 1000) g;
CREATE INDEX items_name ON app.items (name);
CREATE FUNCTION app.price_with_vat(p numeric) RETURNS numeric LANGUAGE sql IMMUTABLE RETURN round(p * 1.24, 2);
CREATE VIEW app.priced AS SELECT id, name, app.price_with_vat(price) AS gross FROM app.items;
CREATE TABLE app.orders (id bigserial, item_id bigint NOT NULL REFERENCES app.items, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.orders_2025 PARTITION OF app.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE app.orders_2026 PARTITION OF app.orders FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO app.orders (item_id, at) SELECT 1 + g % 1000, '2025-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 10000) g;
GRANT SELECT ON app.priced TO reporting;
ALTER TABLE app.items OWNER TO app_owner;
-- Enough rows that a migration stopped after a second is caught in its copy (for the resume).
CREATE TABLE app.events (id bigint PRIMARY KEY, item_id bigint NOT NULL, payload text NOT NULL);
INSERT INTO app.events SELECT g, 1 + g % 1000, repeat(md5(g::text), 4) FROM generate_series(1, 1500000) g;
