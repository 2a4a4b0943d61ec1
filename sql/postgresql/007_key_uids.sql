-- Enrolled keys are bound to the account they were enrolled for, by uid as well as by name: an
-- account deleted and a new one made under the same name (with another uid) inherits none of its
-- keys, and a pass issued for the old account enrolls nothing for the new one. The uid is the
-- pass's (tapctl read it from the name service when it issued the pass); the hosts of a fleet
-- agree on uids, as they must for shared homes. Keys stored before this have the uid of the pass
-- that enrolled them; a key with none (no such pass left) logs in as nobody.
ALTER TABLE pam_tap.keys ADD COLUMN uid bigint;
UPDATE pam_tap.keys k SET uid = p.uid FROM pam_tap.passes p WHERE p.id = k.pass_id;

-- host_enroll as before, binding the key to the pass's uid (an earlier key of the same name and
-- fingerprint is rebound: this pass has just proven it).
CREATE OR REPLACE FUNCTION pam_tap.host_enroll(p_id bigint, p_key_type text, p_blob text, p_fingerprint text,
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
    INSERT INTO pam_tap.keys (user_name, uid, key_type, blob, fingerprint, pass_id, host, hosts, enrolled_at)
    VALUES (r.user_name, r.uid, p_key_type, p_blob, p_fingerprint, p_id, h, r.hosts, t)
    ON CONFLICT (user_name, fingerprint) DO UPDATE SET uid = excluded.uid, pass_id = excluded.pass_id,
        host = excluded.host, hosts = excluded.hosts, enrolled_at = excluded.enrolled_at;
    PERFORM pam_tap.audit_row(t, 'enrolled', r.user_name, p_id, p_service, p_rhost, p_fingerprint, h);
    PERFORM pam_tap.note_clock(t);
    RETURN true;
END
$$;

-- Whether a key logs in as the user (the account with uid p_uid on the caller's host) there.
DROP FUNCTION pam_tap.host_key_known(text, text, text);
CREATE FUNCTION pam_tap.host_key_known(p_user text, p_uid bigint, p_key_type text, p_blob text)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    h text := pam_tap.caller_host();
BEGIN
    RETURN EXISTS (SELECT 1 FROM pam_tap.keys k
                    WHERE k.user_name = p_user AND k.uid = p_uid AND k.key_type = p_key_type
                      AND k.blob = p_blob AND pam_tap.for_host(k.hosts, h));
END
$$;

-- The keys command's one question, for the account with uid p_uid: the keys bound to it that log
-- in on a host, and whether a live enrollment pass issued for it lets it enroll one there now.
DROP FUNCTION pam_tap.keys_for(text, text);
CREATE FUNCTION pam_tap.keys_for(p_user text, p_uid bigint, p_host text)
RETURNS TABLE (key_type text, blob text, enrolling boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    t bigint := pam_tap.host_now();
BEGIN
    RETURN QUERY SELECT k.key_type, k.blob, false FROM pam_tap.keys k
                  WHERE k.user_name = p_user AND k.uid = p_uid AND pam_tap.for_host(k.hosts, p_host)
                  ORDER BY k.id;
    RETURN QUERY SELECT NULL::text, NULL::text, true FROM pam_tap.passes p
                  WHERE p.user_name = p_user AND p.uid = p_uid AND p.enroll_key
                    AND pam_tap.for_host(p.hosts, p_host)
                    AND pam_tap.pass_status(p, t) = 'usable'
                    AND NOT EXISTS (SELECT 1 FROM pam_tap.keys k WHERE k.pass_id = p.id)
                  LIMIT 1;
END
$$;
