-- 3: the handoff in a fleet. A reset pass is put into the shadow file of the host that accepts it,
-- at that moment, inside the transaction that marks it used; that host keeps the previous state in
-- its own store (`host_store`) and settles it there. So hosts may now mark reset passes used, read
-- one pass by id (to settle a reset they hold), and write `reset` audit rows.

CREATE OR REPLACE FUNCTION pam_tap.host_mark_used(p_id bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    t bigint := pam_tap.host_now();
BEGIN
    UPDATE pam_tap.passes p
       SET used_at = t, use_count = p.use_count + 1, failures = 0
     WHERE p.id = p_id AND p.revoked_at IS NULL AND p.locked_at IS NULL
       AND NOT (p.one_time AND p.used_at IS NOT NULL)
       AND p.starts_at <= t AND t < p.expires_at
       AND (p.rest_until IS NULL OR t >= p.rest_until);
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM pam_tap.note_clock(t);
    RETURN t;
END
$$;

-- One pass by id, whatever its status (a host settling a reset it put in place).
CREATE FUNCTION pam_tap.host_pass(p_id bigint) RETURNS SETOF pam_tap.passes
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
    SELECT * FROM pam_tap.passes WHERE id = p_id
$$;

CREATE OR REPLACE FUNCTION pam_tap.host_audit(p_event text, p_user text, p_pass_id bigint, p_service text,
                                              p_rhost text, p_reason text, p_host text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    t bigint := pam_tap.host_now();
BEGIN
    IF p_event IS NULL OR p_event NOT IN ('used', 'failed', 'locked', 'resting', 'refused', 'grace_used', 'reset') THEN
        RAISE EXCEPTION 'a host does not write % audit rows', coalesce(p_event, 'NULL')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO pam_tap.audit (at, event, user_name, pass_id, operator, service, rhost, reason, host)
    VALUES (t, p_event, left(p_user, 256), p_pass_id, NULL, left(p_service, 256), left(p_rhost, 1024),
            left(p_reason, 1024), left(p_host, 253));
    PERFORM pam_tap.note_clock(t);
END
$$;
