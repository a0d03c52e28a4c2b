-- The ledger's two PostgreSQL roles, made once per database by a superuser (or a role with
-- CREATEROLE that owns the database), connected to the ledger's database:
--
--   psql -v ON_ERROR_STOP=1 -v migrator=bank_owner -v runtime=bank_app \
--        -d 'postgresql://postgres@db.internal/bank' -f deploy/roles.sql
--
-- * :migrator owns the schema and every table in it, and runs the migrations:
--     BANK_DATABASE_URL=postgresql://bank_owner@db.internal/bank \
--       bank-api migrate --runtime-role bank_app
--   which, in the migration's own transaction, gives :runtime exactly the privileges of
--   bank_adapters/sql/privileges.py (SELECT and INSERT everywhere it writes; UPDATE on
--   accounts, transactions and api_keys; DELETE on idempotency_keys only; nothing else).
-- * :runtime serves, and may do nothing else: no DDL (it owns nothing and may create nothing
--   here, temporary tables included), no UPDATE or DELETE of the journal or the events, no
--   TRUNCATE:
--     BANK_DATABASE_URL=postgresql://bank_app@db.internal/bank bank-api serve
--   (serve's own migration step finds the schema at the newest and changes nothing).
--
-- Both are made LOGIN without a password: give each one (\password bank_owner) or use the
-- server's other authentication (pg_hba.conf). Running this again changes nothing; a database
-- migrated before by another role is handed over to :migrator (its tables, sequences and
-- functions in schema public). Tables added by later migrations get SELECT and INSERT for
-- :runtime at once (the default privileges below) and the rest on the next
-- `bank-api migrate --runtime-role`.

\set QUIET on
SELECT format('CREATE ROLE %I LOGIN', :'migrator')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'migrator') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'runtime')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'runtime') \gexec

-- Nobody but the schema's owner creates anything in it; nobody creates temporary tables but
-- :migrator (PostgreSQL grants both to PUBLIC by default, CREATE on public before version 15).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), :'migrator') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), :'runtime') \gexec

ALTER SCHEMA public OWNER TO :"migrator";
GRANT USAGE ON SCHEMA public TO :"runtime";

-- A database migrated before by another role: :migrator takes over what is in the schema.
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, :'migrator')
  FROM pg_tables
 WHERE schemaname = 'public' AND tableowner <> :'migrator' \gexec
SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, :'migrator')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> :'migrator' \gexec

-- What :migrator creates from now on: :runtime may read and append, nothing more, until
-- `bank-api migrate --runtime-role` grants the table's own privileges.
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator" IN SCHEMA public
  GRANT SELECT, INSERT ON TABLES TO :"runtime";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"runtime";
\set QUIET off
\echo roles ready: now run bank-api migrate --runtime-role as the migration role
