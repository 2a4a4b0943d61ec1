-- 4: the fleet database is the fleet's boundary. A host's login role acts only as its own host:
-- pam_tap.hosts binds each login role to its host name (tapctl hosts bind), and every host
-- function derives the caller's host from session_user (no host parameter), enforces the pass's
-- host and service scope itself, returns only what a login needs (the derive key only from the call
-- that marks the pass used), writes the audit row of every change it makes (failures included)
-- and waits for a pass's row lock a bounded time whatever the session asked for.

CREATE TABLE pam_tap.hosts (
    role_name name PRIMARY KEY,
    host_name text NOT NULL CHECK (host_name ~ '^[A-Za-z0-9.-]{1,253}$')
);

-- Which host role accepted which pass: only that host settles it, reads it back or logs in with
-- it again within the grace window.
CREATE TABLE pam_tap.acceptances (
    pass_id bigint NOT NULL REFERENCES pam_tap.passes (id) ON DELETE CASCADE,
    role_name name NOT NULL,
    at bigint NOT NULL,
    PRIMARY KEY (pass_id, role_name)
);
-- The acceptances made before this migration, as the audit recorded who wrote them.
INSERT INTO pam_tap.acceptances (pass_id, role_name, at)
SELECT a.pass_id, a.db_role, max(a.at) FROM pam_tap.audit a
 WHERE a.event = 'used' AND a.pass_id IS NOT NULL AND a.db_role IS NOT NULL
   AND EXISTS (SELECT 1 FROM pam_tap.passes p WHERE p.id = a.pass_id)
 GROUP BY a.pass_id, a.db_role;

-- What a host sees of a pass: no derive key, no reason, no shadow state; the hash only when the
-- pass is for this host.
CREATE TYPE pam_tap.host_view AS (
    id bigint, user_name text, uid bigint, hash text, created_at bigint, starts_at bigint,
    expires_at bigint, one_time boolean, reset_password boolean, failures integer, locked_at bigint,
    used_at bigint, use_count integer, revoked_at bigint, issuer_role text, services text,
    rest_until bigint, rests integer, total_failures integer, hosts text, in_scope boolean
);

-- The replaced functions: each took a host name, a pass of any host or returned whole rows.
DROP FUNCTION pam_tap.host_latest(text);
DROP FUNCTION pam_tap.host_lock(bigint);
DROP FUNCTION pam_tap.host_pass(bigint);
DROP FUNCTION pam_tap.host_mark_used(bigint);
DROP FUNCTION pam_tap.host_last_use(bigint);
DROP FUNCTION pam_tap.host_count_failure(bigint, integer, bigint);
DROP FUNCTION pam_tap.host_audit(text, text, bigint, text, text, text, text);

-- The calling host: the name session_user is bound to (SECURITY DEFINER does not change
-- session_user). Not callable by hosts.
CREATE FUNCTION pam_tap.caller_host() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    h text;
BEGIN
    SELECT b.host_name INTO h FROM pam_tap.hosts b WHERE b.role_name = session_user;
    IF h IS NULL THEN
        RAISE EXCEPTION 'the database role % is bound to no host (tapctl hosts bind % HOST_NAME)',
            session_user, session_user USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN h;
END
$$;

-- The host name this session's role is bound to, NULL if none (doctor asks).
CREATE FUNCTION pam_tap.host_binding() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
    SELECT b.host_name FROM pam_tap.hosts b WHERE b.role_name = session_user
$$;

-- Whether a pass scoped to `scope` (comma-separated host names, NULL: any) is for `host`.
CREATE FUNCTION pam_tap.for_host(scope text, host text) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pam_tap, pg_temp AS $$
    SELECT scope IS NULL OR EXISTS (
        SELECT 1 FROM unnest(string_to_array(scope, ',')) AS s(name) WHERE lower(trim(s.name)) = lower(host))
$$;

-- Whether a pass narrowed to `scope` (comma-separated services, NULL: the policy's) counts at
-- `service`. The policy's own list is the host's to check.
CREATE FUNCTION pam_tap.for_service(scope text, service text) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pam_tap, pg_temp AS $$
    SELECT scope IS NULL OR (service IS NOT NULL AND service = ANY (string_to_array(scope, ',')))
$$;

-- Refuses a pass outside the caller's scope.
CREATE FUNCTION pam_tap.require_scope(p pam_tap.passes, host text, service text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pam_tap, pg_temp AS $$
BEGIN
    IF NOT pam_tap.for_host(p.hosts, host) OR NOT pam_tap.for_service(p.services, service) THEN
        RAISE EXCEPTION 'pass % is not for host % at service %', p.id, host, coalesce(service, '(none)')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- Refuses a pass this session's role never accepted.
CREATE FUNCTION pam_tap.require_accepted(p_id bigint) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pam_tap.acceptances a WHERE a.pass_id = p_id AND a.role_name = session_user) THEN
        RAISE EXCEPTION 'pass % was not accepted by %', p_id, session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- A pass's row lock is waited for at most 10 s (less if the session says so): a host holding one
-- cannot stall logins on every other host.
CREATE FUNCTION pam_tap.bound_lock_wait() RETURNS void
LANGUAGE plpgsql SET search_path = pam_tap, pg_temp AS $$
DECLARE
    now_set interval := current_setting('lock_timeout')::interval;
BEGIN
    IF now_set = interval '0' OR now_set > interval '10 seconds' THEN
        PERFORM set_config('lock_timeout', '10s', true);
    END IF;
END
$$;

-- A pass's status at t, as the module's PassRecord::status judges it (the policy's `enabled` is
-- the host's to check).
CREATE FUNCTION pam_tap.pass_status(p pam_tap.passes, t bigint) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pam_tap, pg_temp AS $$
    SELECT CASE
        WHEN p.revoked_at IS NOT NULL THEN 'revoked'
        WHEN p.one_time AND p.used_at IS NOT NULL THEN 'used'
        WHEN p.locked_at IS NOT NULL THEN 'locked'
        WHEN t >= p.expires_at THEN 'expired'
        WHEN t < p.starts_at THEN 'not_yet_valid'
        WHEN p.rest_until IS NOT NULL AND t < p.rest_until THEN 'resting'
        ELSE 'usable'
    END
$$;

-- A pass as a host sees it.
CREATE FUNCTION pam_tap.view_of(p pam_tap.passes, with_hash boolean, in_scope boolean) RETURNS pam_tap.host_view
LANGUAGE sql IMMUTABLE SET search_path = pam_tap, pg_temp AS $$
    SELECT ROW(p.id, p.user_name, p.uid, CASE WHEN with_hash THEN p.hash END, p.created_at, p.starts_at,
               p.expires_at, p.one_time, p.reset_password, p.failures, p.locked_at, p.used_at,
               p.use_count, p.revoked_at, p.issuer_role, p.services, p.rest_until, p.rests,
               p.total_failures, p.hosts, in_scope)::pam_tap.host_view
$$;

-- One audit row of the caller's host, at t.
CREATE FUNCTION pam_tap.audit_row(t bigint, p_event text, p_user text, p_pass_id bigint,
                                         p_service text, p_rhost text, p_reason text, host text) RETURNS void
LANGUAGE sql SET search_path = pam_tap, pg_temp AS $$
    INSERT INTO pam_tap.audit (at, event, user_name, pass_id, operator, service, rhost, reason, host)
    VALUES (t, p_event, left(p_user, 256), p_pass_id, NULL, left(p_service, 256), left(p_rhost, 1024),
            left(p_reason, 1024), left(host, 253))
$$;

-- The user's newest pass as this host sees it: its hash only when the pass is for this host.
CREATE FUNCTION pam_tap.host_latest(p_user text) RETURNS SETOF pam_tap.host_view
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    h text := pam_tap.caller_host();
BEGIN
    RETURN QUERY
    SELECT v.* FROM pam_tap.passes p,
           LATERAL pam_tap.view_of(p, pam_tap.for_host(p.hosts, h), pam_tap.for_host(p.hosts, h)) v
     WHERE p.user_name = p_user ORDER BY p.id DESC LIMIT 1;
END
$$;

-- A pass this host accepted, whatever its status, without its hash (settling a reset it holds).
CREATE FUNCTION pam_tap.host_pass(p_id bigint) RETURNS SETOF pam_tap.host_view
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
BEGIN
    PERFORM pam_tap.caller_host();
    PERFORM pam_tap.require_accepted(p_id);
    RETURN QUERY SELECT v.* FROM pam_tap.passes p, LATERAL pam_tap.view_of(p, false, true) v WHERE p.id = p_id;
END
$$;

-- What host_accept returns: the database's verdict, the derive key of a pass it accepted, and the
-- pass as the host sees it afterwards.
CREATE TYPE pam_tap.host_acceptance AS (status text, derive_key bytea, pass pam_tap.host_view);

-- Accepts a pass at this host and service: the row locked until the caller's transaction ends
-- (racing acceptances on any host queue here and each later one meets the committed row), its
-- status judged at the database's now; a usable pass is marked used, the acceptance and its `used`
-- audit row written, and its derive key returned; any other status is audited as `refused` and
-- returned without a key. No row: no such pass.
CREATE FUNCTION pam_tap.host_accept(p_id bigint, p_service text, p_rhost text)
RETURNS SETOF pam_tap.host_acceptance
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    h text := pam_tap.caller_host();
    t bigint := pam_tap.host_now();
    r pam_tap.passes;
    verdict text;
BEGIN
    PERFORM pam_tap.bound_lock_wait();
    SELECT * INTO r FROM pam_tap.passes p WHERE p.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM pam_tap.require_scope(r, h, p_service);
    verdict := pam_tap.pass_status(r, t);
    IF verdict <> 'usable' THEN
        PERFORM pam_tap.audit_row(t, 'refused', r.user_name, p_id, p_service, p_rhost, verdict, h);
        PERFORM pam_tap.note_clock(t);
        RETURN NEXT ROW(verdict, NULL::bytea, pam_tap.view_of(r, true, true))::pam_tap.host_acceptance;
        RETURN;
    END IF;
    UPDATE pam_tap.passes p SET used_at = t, use_count = p.use_count + 1, failures = 0
     WHERE p.id = p_id RETURNING * INTO r;
    INSERT INTO pam_tap.acceptances (pass_id, role_name, at) VALUES (p_id, session_user, t)
        ON CONFLICT ON CONSTRAINT acceptances_pkey DO UPDATE SET at = excluded.at;
    PERFORM pam_tap.audit_row(t, 'used', r.user_name, p_id, p_service, p_rhost, NULL, h);
    PERFORM pam_tap.note_clock(t);
    RETURN NEXT ROW(verdict, r.derive_key, pam_tap.view_of(r, true, true))::pam_tap.host_acceptance;
END
$$;

-- Counts one wrong answer to a pass of this host and service, and audits it. After p_max
-- consecutive ones the pass rests for p_lockout_secs, twice as long at each further rest (at most
-- 2^16 times); after 100 in all (DEAD_AFTER) it is locked for good. `state`: failed, resting,
-- locked (now), or blocked (locked before).
CREATE FUNCTION pam_tap.host_count_failure(p_id bigint, p_service text, p_rhost text, p_max integer,
                                           p_lockout_secs bigint)
RETURNS TABLE (state text, rest_secs bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    h text := pam_tap.caller_host();
    t bigint := pam_tap.host_now();
    most integer := least(greatest(p_max, 1), 100);
    r pam_tap.passes;
BEGIN
    PERFORM pam_tap.bound_lock_wait();
    SELECT * INTO r FROM pam_tap.passes p WHERE p.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM pam_tap.require_scope(r, h, p_service);
    UPDATE pam_tap.passes p
       SET failures = p.failures + 1, total_failures = p.total_failures + 1
     WHERE p.id = p_id RETURNING * INTO r;
    PERFORM pam_tap.audit_row(t, 'failed', r.user_name, p_id, p_service, p_rhost,
        format('failure %s of %s, %s of 100 in all', r.failures, most, r.total_failures), h);
    rest_secs := NULL;
    IF r.locked_at IS NOT NULL THEN
        state := 'blocked';
    ELSIF r.total_failures >= 100 THEN
        UPDATE pam_tap.passes p SET locked_at = t WHERE p.id = p_id;
        state := 'locked';
        PERFORM pam_tap.audit_row(t, 'locked', r.user_name, p_id, p_service, p_rhost,
            format('%s failures in all: the pass is dead', r.total_failures), h);
    ELSIF r.failures >= most THEN
        -- The policy's bounds (1 s ..= 24 h), whatever the host sends.
        rest_secs := least(greatest(p_lockout_secs, 1), 86400) * (1::bigint << least(r.rests, 16));
        UPDATE pam_tap.passes p
           SET rest_until = t + rest_secs, rests = p.rests + 1, failures = 0
         WHERE p.id = p_id;
        state := 'resting';
        PERFORM pam_tap.audit_row(t, 'resting', r.user_name, p_id, p_service, p_rhost,
            format('%s consecutive failures: resting %s s', r.failures, rest_secs), h);
    ELSE
        state := 'failed';
    END IF;
    PERFORM pam_tap.note_clock(t);
    RETURN NEXT;
END
$$;

-- A login again with a pass this host accepted, inside the handoff's grace window (the host has
-- checked its shadow entry): refused if the pass logged someone in less than p_gap seconds ago.
-- Audited either way.
CREATE FUNCTION pam_tap.host_grace(p_id bigint, p_gap bigint, p_service text, p_rhost text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    h text := pam_tap.caller_host();
    t bigint := pam_tap.host_now();
    last bigint;
    r pam_tap.passes;
BEGIN
    PERFORM pam_tap.bound_lock_wait();
    SELECT * INTO r FROM pam_tap.passes p WHERE p.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM pam_tap.require_scope(r, h, p_service);
    PERFORM pam_tap.require_accepted(p_id);
    SELECT max(a.at) INTO last FROM pam_tap.audit a WHERE a.pass_id = p_id AND a.event IN ('used', 'grace_used');
    IF last IS NOT NULL AND t < last + greatest(p_gap, 0) THEN
        PERFORM pam_tap.audit_row(t, 'refused', r.user_name, p_id, p_service, p_rhost, 'used moments ago', h);
        RETURN false;
    END IF;
    PERFORM pam_tap.audit_row(t, 'grace_used', r.user_name, p_id, p_service, p_rhost,
        'login while the forced change is pending', h);
    PERFORM pam_tap.note_clock(t);
    RETURN true;
END
$$;

-- An audit row a host writes itself, at the database's now, naming the caller's host: a refusal
-- of a pass (of its own user), the reset or the grace answer of a pass this host accepted. Every
-- other event is written by the function that makes the change.
CREATE FUNCTION pam_tap.host_audit(p_event text, p_user text, p_pass_id bigint, p_service text,
                                   p_rhost text, p_reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pam_tap, pg_temp AS $$
DECLARE
    h text := pam_tap.caller_host();
    t bigint := pam_tap.host_now();
    owner text;
BEGIN
    IF p_event IS NULL OR p_event NOT IN ('refused', 'reset', 'grace_used') THEN
        RAISE EXCEPTION 'a host does not write % audit rows', coalesce(p_event, 'NULL')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT p.user_name INTO owner FROM pam_tap.passes p WHERE p.id = p_pass_id;
    IF owner IS NULL OR owner IS DISTINCT FROM p_user THEN
        RAISE EXCEPTION 'pass % is not a pass of %', coalesce(p_pass_id::text, 'NULL'), coalesce(p_user, 'NULL')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_event <> 'refused' THEN
        PERFORM pam_tap.require_accepted(p_pass_id);
    END IF;
    PERFORM pam_tap.audit_row(t, p_event, p_user, p_pass_id, p_service, p_rhost, p_reason, h);
    PERFORM pam_tap.note_clock(t);
END
$$;
