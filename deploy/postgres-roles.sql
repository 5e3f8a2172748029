-- PostgreSQL roles for the hub: the migrations run as the owner; the workers connect as
-- hub_app, which can add to the disclosure log but never change or remove an entry.
--
-- Run as a superuser (or the database owner), after `hub db upgrade`, in the hub's database:
--   psql -v ON_ERROR_STOP=1 -d hub -f deploy/postgres-roles.sql
-- then set the password:  ALTER ROLE hub_app PASSWORD '...';  (never in this file)
-- and point the workers at it: HUB_DATABASE_URL=postgresql+psycopg://hub_app:...@db/hub
-- Re-run it after every migration that adds a table (it is idempotent).
-- Tested by tests/ops/test_deploy_roles.py.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hub_app') THEN
    CREATE ROLE hub_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
END $$;

REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO hub_app;

-- Live data: the service layer reads and writes it.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO hub_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO hub_app;

-- The disclosure log: append and read only. (The triggers from the first migration refuse
-- UPDATE, DELETE and TRUNCATE as well; the grants make it so even if a trigger is dropped,
-- and only the owner, not hub_app, can drop one.)
REVOKE UPDATE, DELETE, TRUNCATE ON disclosure_log FROM hub_app;
GRANT SELECT, INSERT ON disclosure_log TO hub_app;

-- The head row is the appenders' turn-taking lock and running total: it must be updated,
-- but never deleted or emptied.
REVOKE DELETE, TRUNCATE ON disclosure_log_head FROM hub_app;
GRANT SELECT, UPDATE ON disclosure_log_head TO hub_app;

-- Migrations stay with the owner.
REVOKE ALL ON alembic_version FROM hub_app;
GRANT SELECT ON alembic_version TO hub_app;
