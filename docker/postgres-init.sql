-- The application connects as an ordinary role: PostgreSQL's row-level security, which stands
-- behind the application's tenant scoping, does not apply to superusers.
CREATE ROLE unlockplus LOGIN PASSWORD 'unlockplus' NOSUPERUSER NOBYPASSRLS;
CREATE DATABASE unlockplus OWNER unlockplus;
