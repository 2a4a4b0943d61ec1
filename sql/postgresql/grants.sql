-- Privileges, applied after every migration (idempotent). pam_tap_admin owns everything;
-- pam_tap_host may use the schema and call the host_* functions, and has no table privilege at all.
-- The functions they call inside (caller_host, require_scope, pass_status, ...) are not granted:
-- they run with the owner's rights only from inside a host function.
REVOKE ALL ON SCHEMA pam_tap FROM PUBLIC;
GRANT USAGE ON SCHEMA pam_tap TO pam_tap_host;
REVOKE ALL ON ALL TABLES IN SCHEMA pam_tap FROM PUBLIC, pam_tap_host;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA pam_tap FROM PUBLIC, pam_tap_host;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pam_tap FROM PUBLIC, pam_tap_host;
REVOKE ALL ON TYPE pam_tap.host_view FROM PUBLIC;
GRANT USAGE ON TYPE pam_tap.host_view TO pam_tap_host;
GRANT EXECUTE ON FUNCTION
    pam_tap.host_now(),
    pam_tap.host_binding(),
    pam_tap.host_latest(text),
    pam_tap.host_pass(bigint),
    pam_tap.host_accept(bigint, text, text),
    pam_tap.host_count_failure(bigint, text, text, integer, bigint),
    pam_tap.host_grace(bigint, bigint, text, text),
    pam_tap.host_note_time(),
    pam_tap.host_audit(text, text, bigint, text, text, text),
    pam_tap.host_enroll(bigint, text, text, text, text, text),
    pam_tap.host_key_known(text, bigint, text, text)
TO pam_tap_host;
-- sshd's keys command: public keys and "may enroll now", through keys_for only. A store whose
-- roles.sql predates key enrollment has no pam_tap_keys role: nothing to grant then.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pam_tap_keys') THEN
        GRANT USAGE ON SCHEMA pam_tap TO pam_tap_keys;
        REVOKE ALL ON ALL TABLES IN SCHEMA pam_tap FROM pam_tap_keys;
        REVOKE ALL ON ALL SEQUENCES IN SCHEMA pam_tap FROM pam_tap_keys;
        REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pam_tap FROM pam_tap_keys;
        GRANT EXECUTE ON FUNCTION pam_tap.keys_for(text, bigint, text) TO pam_tap_keys;
    END IF;
END
$$;
