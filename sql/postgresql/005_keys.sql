-- Key enrollment on key-only servers: a pass may only enroll the SSH key its holder proved in the
-- same connection (passes.enroll_key), and the keys it enrolled log in on the hosts of the pass's
-- scope. Hosts enroll through host_enroll and ask host_key_known; sshd's keys command on each host
-- connects as a member of pam_tap_keys and may only call keys_for: public keys, and whether the
-- user may enroll one now. It sees no pass, hash or audit row.
ALTER TABLE pam_tap.passes ADD COLUMN enroll_key boolean NOT NULL DEFAULT false;

CREATE TABLE pam_tap.keys (
    id bigserial PRIMARY KEY,
    user_name text NOT NULL,
    key_type text NOT NULL,
    blob text NOT NULL,
    fingerprint text NOT NULL,
    pass_id bigint UNIQUE,
    host text,
    hosts text,
    enrolled_at bigint NOT NULL,
    UNIQUE (user_name, fingerprint)
);

-- A host sees whether a pass only enrolls a key.
ALTER TYPE pam_tap.host_view ADD ATTRIBUTE enroll_key boolean;

CREATE OR REPLACE FUNCTION pam_tap.view_of(p pam_tap.passes, with_hash boolean, in_scope boolean) RETURNS pam_tap.host_view
LANGUAGE sql IMMUTABLE SET search_path = pam_tap, pg_temp AS $$
    SELECT ROW(p.id, p.user_name, p.uid, CASE WHEN with_hash THEN p.hash END, p.created_at, p.starts_at,
               p.expires_at, p.one_time, p.reset_password, p.failures, p.locked_at, p.used_at,
               p.use_count, p.revoked_at, p.issuer_role, p.services, p.rest_until, p.rests,
               p.total_failures, p.hosts, in_scope, p.enroll_key)::pam_tap.host_view
$$;

-- Enrolls the key a host saw proven for the pass it has just accepted (host_accept). One key per
-- pass: a second one is refused. Audited as `enrolled` with the fingerprint, on the caller's host.
CREATE FUNCTION pam_tap.host_enroll(p_id bigint, p_key_type text, p_blob text, p_fingerprint text,
                                    p_service text, p_rhost text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    h text := pam_tap.caller_host();
    t bigint := pam_tap.host_now();
    r pam_tap.passes;
BEGIN
    PERFORM pam_tap.bound_lock_wait();
    PERFORM pam_tap.require_accepted(p_id);
    SELECT * INTO r FROM pam_tap.passes p WHERE p.id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT r.enroll_key OR r.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'pass % does not enroll keys', p_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF length(p_blob) > 4096 OR length(p_key_type) > 64 OR length(p_fingerprint) > 64 THEN
        RAISE EXCEPTION 'key too long' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM pam_tap.keys k WHERE k.pass_id = p_id) THEN
        PERFORM pam_tap.audit_row(t, 'refused', r.user_name, p_id, p_service, p_rhost,
            'the pass has enrolled a key already', h);
        RETURN false;
    END IF;
    INSERT INTO pam_tap.keys (user_name, key_type, blob, fingerprint, pass_id, host, hosts, enrolled_at)
    VALUES (r.user_name, p_key_type, p_blob, p_fingerprint, p_id, h, r.hosts, t)
    ON CONFLICT (user_name, fingerprint) DO UPDATE SET pass_id = excluded.pass_id, host = excluded.host,
        hosts = excluded.hosts, enrolled_at = excluded.enrolled_at;
    PERFORM pam_tap.audit_row(t, 'enrolled', r.user_name, p_id, p_service, p_rhost, p_fingerprint, h);
    PERFORM pam_tap.note_clock(t);
    RETURN true;
END
$$;

-- Whether a key logs in as the user on the caller's host.
CREATE FUNCTION pam_tap.host_key_known(p_user text, p_key_type text, p_blob text)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    h text := pam_tap.caller_host();
BEGIN
    RETURN EXISTS (SELECT 1 FROM pam_tap.keys k
                    WHERE k.user_name = p_user AND k.key_type = p_key_type AND k.blob = p_blob
                      AND pam_tap.for_host(k.hosts, h));
END
$$;

-- The keys command's one question: the keys that log in as the user on a host, and whether a live
-- enrollment pass lets the user enroll one there now (a row with NULL key and enrolling true).
CREATE FUNCTION pam_tap.keys_for(p_user text, p_host text)
RETURNS TABLE (key_type text, blob text, enrolling boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    t bigint := pam_tap.host_now();
BEGIN
    RETURN QUERY SELECT k.key_type, k.blob, false FROM pam_tap.keys k
                  WHERE k.user_name = p_user AND pam_tap.for_host(k.hosts, p_host) ORDER BY k.id;
    RETURN QUERY SELECT NULL::text, NULL::text, true FROM pam_tap.passes p
                  WHERE p.user_name = p_user AND p.enroll_key AND pam_tap.for_host(p.hosts, p_host)
                    AND pam_tap.pass_status(p, t) = 'usable'
                    AND NOT EXISTS (SELECT 1 FROM pam_tap.keys k WHERE k.pass_id = p.id)
                  LIMIT 1;
END
$$;
