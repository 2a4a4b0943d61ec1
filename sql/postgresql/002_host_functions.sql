-- 2: what a host's module may do, and nothing more. Each function runs as pam_tap_admin (SECURITY
-- DEFINER) with a fixed search_path, takes its time from the database's clock, never from the host,
-- and raises the clock mark, so a server clock set back cannot revive a pass.

-- The clock mark, raised to t (not callable by hosts).
CREATE FUNCTION pam_tap.note_clock(t bigint) RETURNS void
LANGUAGE sql SET search_path = pam_tap, pg_temp AS $$
    UPDATE pam_tap.meta SET value = t WHERE key = 'clock' AND value < t
$$;

-- Now: the database's epoch seconds, never below the clock mark.
CREATE FUNCTION pam_tap.host_now() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
    SELECT greatest(floor(extract(epoch FROM clock_timestamp()))::bigint,
                    coalesce((SELECT value FROM pam_tap.meta WHERE key = 'clock'), 0))
$$;

-- The user's newest pass, whatever its status.
CREATE FUNCTION pam_tap.host_latest(p_user text) RETURNS SETOF pam_tap.passes
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
    SELECT * FROM pam_tap.passes WHERE user_name = p_user ORDER BY id DESC LIMIT 1
$$;

-- The pass, row-locked until the caller's transaction ends: racing redeems on any host queue here.
CREATE FUNCTION pam_tap.host_lock(p_id bigint) RETURNS SETOF pam_tap.passes
LANGUAGE sql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
    SELECT * FROM pam_tap.passes WHERE id = p_id FOR UPDATE
$$;

-- Marks a usable pass used; NULL (nothing changed) for one that is not usable now. The caller
-- holds the row lock (host_lock) and has checked the status itself: this is the second guard.
-- Reset passes are never marked here: their shadow side needs the local store.
CREATE FUNCTION pam_tap.host_mark_used(p_id bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    t bigint := pam_tap.host_now();
BEGIN
    UPDATE pam_tap.passes p
       SET used_at = t, use_count = p.use_count + 1, failures = 0
     WHERE p.id = p_id AND p.revoked_at IS NULL AND p.locked_at IS NULL
       AND NOT (p.one_time AND p.used_at IS NOT NULL)
       AND p.starts_at <= t AND t < p.expires_at
       AND (p.rest_until IS NULL OR t >= p.rest_until)
       AND NOT p.reset_password;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM pam_tap.note_clock(t);
    RETURN t;
END
$$;

-- Counts one wrong answer. After p_max consecutive ones the pass rests for p_lockout_secs, twice as
-- long at each further rest (at most 2^16 times); after 100 in all (DEAD_AFTER) it is locked for
-- good. `state`: failed, resting, locked (now), or blocked (locked before). The caller audits.
CREATE FUNCTION pam_tap.host_count_failure(p_id bigint, p_max integer, p_lockout_secs bigint)
RETURNS TABLE (who text, consecutive integer, in_all integer, state text, rest_secs bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    t bigint := pam_tap.host_now();
    r record;
BEGIN
    UPDATE pam_tap.passes p
       SET failures = p.failures + 1, total_failures = p.total_failures + 1
     WHERE p.id = p_id
    RETURNING p.user_name, p.failures, p.total_failures, p.rests, p.locked_at INTO r;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    who := r.user_name;
    consecutive := r.failures;
    in_all := r.total_failures;
    rest_secs := NULL;
    IF r.locked_at IS NOT NULL THEN
        state := 'blocked';
    ELSIF r.total_failures >= 100 THEN
        UPDATE pam_tap.passes p SET locked_at = t WHERE p.id = p_id;
        state := 'locked';
    ELSIF r.failures >= least(greatest(p_max, 1), 100) THEN
        -- The policy's bounds (1 s ..= 24 h), whatever the host sends.
        rest_secs := least(greatest(p_lockout_secs, 1), 86400) * (1::bigint << least(r.rests, 16));
        UPDATE pam_tap.passes p
           SET rest_until = t + rest_secs, rests = p.rests + 1, failures = 0
         WHERE p.id = p_id;
        state := 'resting';
    ELSE
        state := 'failed';
    END IF;
    PERFORM pam_tap.note_clock(t);
    RETURN NEXT;
END
$$;

-- Raises the clock mark to the database's now; returns it.
CREATE FUNCTION pam_tap.host_note_time() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    t bigint := pam_tap.host_now();
BEGIN
    PERFORM pam_tap.note_clock(t);
    RETURN t;
END
$$;

-- When the pass last logged someone in (used or grace_used), NULL if never.
CREATE FUNCTION pam_tap.host_last_use(p_id bigint) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
    SELECT max(at) FROM pam_tap.audit WHERE pass_id = p_id AND event IN ('used', 'grace_used')
$$;

-- One audit row of a login, at the database's now; only the events a login writes, each text
-- capped. The row also records the login role that wrote it.
CREATE FUNCTION pam_tap.host_audit(p_event text, p_user text, p_pass_id bigint, p_service text,
                                   p_rhost text, p_reason text, p_host text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    t bigint := pam_tap.host_now();
BEGIN
    IF p_event IS NULL OR p_event NOT IN ('used', 'failed', 'locked', 'resting', 'refused', 'grace_used') THEN
        RAISE EXCEPTION 'a host does not write % audit rows', coalesce(p_event, 'NULL')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO pam_tap.audit (at, event, user_name, pass_id, operator, service, rhost, reason, host)
    VALUES (t, p_event, left(p_user, 256), p_pass_id, NULL, left(p_service, 256), left(p_rhost, 1024),
            left(p_reason, 1024), left(p_host, 253));
    PERFORM pam_tap.note_clock(t);
END
$$;
