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
