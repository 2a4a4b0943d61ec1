-- pam_tap fleet store: the two group roles. Run once per database, as a superuser, in the
-- database that will hold the store (psql -d pam_tap -f roles.sql). Idempotent.
--
--   pam_tap_admin  owns the schema; tapctl's login role is a member:
--                    CREATE ROLE tapctl LOGIN PASSWORD '...' IN ROLE pam_tap_admin;
--   pam_tap_host   may only call the pam_tap.host_* functions; each host's login role is a member:
--                    CREATE ROLE host_ws0421 LOGIN PASSWORD '...' IN ROLE pam_tap_host;
--   pam_tap_keys   may only call pam_tap.keys_for (sshd's keys command on key-only servers):
--                    CREATE ROLE tapkeys LOGIN PASSWORD '...' IN ROLE pam_tap_keys;
--
-- Then `tapctl init` (connected as a pam_tap_admin member) creates or migrates the schema.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pam_tap_admin') THEN
        CREATE ROLE pam_tap_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pam_tap_host') THEN
        CREATE ROLE pam_tap_host NOLOGIN;
    END IF;
    -- sshd's keys command on each host (key-only servers): may only call pam_tap.keys_for.
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pam_tap_keys') THEN
        CREATE ROLE pam_tap_keys NOLOGIN;
    END IF;
    -- tapctl init creates the pam_tap schema in this database.
    EXECUTE format('GRANT CREATE, CONNECT ON DATABASE %I TO pam_tap_admin', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO pam_tap_host', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO pam_tap_keys', current_database());
END
$$;
