/* pam_tap's Cockpit page: lists, issues and revokes Temporary Access Passes by running tapctl.
 *
 * Every action runs `sudo -n /usr/sbin/tapctl … --json` as the logged-in Cockpit user, not through
 * Cockpit's administrative access: sudo sets SUDO_USER, so tapctl sees the Cockpit user as the
 * operator and its roles decide (a viewer is refused by tapctl whatever this page shows). The
 * sudo rule allows tapctl and nothing else (see the guide's "Helpdesk console", docs/guide/src/cockpit.md).
 *
 * A new pass lives only in the issue dialog: it is never written to browser storage, the URL or
 * the console, and the dialog's nodes are removed from the document when it closes. */
"use strict";

(function () {
    const { el, byId, when, cell, dialog, field, text, inlineError, copyText, fact } = window.tapUi;
    const TAPCTL = ["sudo", "-n", "/usr/sbin/tapctl"];

    /* The colour of each tone `tapctl vocabulary` gives a status. The words themselves (statuses,
     * events, roles and what each role may run) come from tapctl, never from this file. */
    const TONE = { good: "pf-m-green", info: "pf-m-blue", warning: "pf-m-orange", danger: "pf-m-red", neutral: "" };

    const state = { vocab: null, policy: null };

    /* ---- tapctl ---- */

    /* Why a run failed, as a person reads it: tapctl's own refusal line as is. */
    function failure(ex) {
        const text = ((ex && ex.message) || cockpit.message(ex) || "").trim();
        if (ex && ex.problem === "not-found")
            return "sudo is not installed on this machine.";
        if (/a password is required|may not run sudo|is not allowed to execute|not in the sudoers/.test(text))
            return text + " — your account has no sudo rule for tapctl; an administrator adds one (guide: Helpdesk console).";
        return text || "tapctl failed (exit status " + (ex && ex.exit_status) + ")";
    }

    /* Runs tapctl with `args` and resolves with its parsed JSON output. On a non-zero exit, rejects
     * with the refusal text; `keepOutput` resolves with the output anyway (doctor exits 1 when it
     * finds a failure, and its JSON is the answer). */
    function tapctl(args, keepOutput) {
        return new Promise((resolve, reject) => {
            cockpit.spawn(TAPCTL.concat(args), { err: "message", environ: ["LC_ALL=C.UTF-8"] })
                .then(out => {
                    try {
                        resolve(JSON.parse(out));
                    } catch (e) {
                        reject(new Error("tapctl printed something that is not JSON"));
                    }
                }, (ex, out) => {
                    if (keepOutput && out) {
                        try {
                            resolve(JSON.parse(out));
                            return;
                        } catch (e) { /* fall through to the refusal */ }
                    }
                    reject(new Error(failure(ex)));
                });
        });
    }

    /* ---- alerts ---- */

    function alert(kind, title, text) {
        const box = el("div", { class: "pf-c-alert pf-m-inline pf-m-" + kind, role: kind === "danger" ? "alert" : "status" }, [
            el("p", { class: "pf-c-alert__title", text: title }),
            text ? el("div", { class: "pf-c-alert__description" }, el("p", { class: "tap-refusal", text })) : null,
        ]);
        const area = byId("tap-alerts");
        area.replaceChildren(box);
        return box;
    }

    function clearAlerts() {
        byId("tap-alerts").replaceChildren();
    }

    /* ---- the vocabulary: what to show (tapctl decides what is allowed) ---- */

    function statusOf(status) {
        const found = state.vocab.statuses.find(s => s.status === status);
        return found || { status, label: status, tone: "neutral", meaning: "", live: false };
    }

    /* Whether the signed-in operator's role reaches `command` ("issue", "hosts list"). */
    function may(command) {
        const role = state.vocab.roles.find(r => r.role === state.vocab.you.role);
        return !!role && role.may.includes(command);
    }

    function roleLabel() {
        const role = state.vocab.roles.find(r => r.role === state.vocab.you.role);
        if (!role) return state.vocab.you.role;
        return may("issue") ? role.label : role.label + ": " + role.may.join(", ") + " only";
    }

    /* Every status, as the passes table shows it, with what it means. */
    function renderLegend() {
        byId("status-legend").replaceChildren(...state.vocab.statuses.map(s =>
            el("div", { class: "tap-legend-row", "data-status": s.status }, [statusLabel(s.status), el("span", { class: "tap-why", text: s.meaning })])));
    }

    function renderEventFilter() {
        const select = byId("log-event");
        select.replaceChildren(el("option", { value: "", text: "All events" }),
            ...state.vocab.events.map(e => el("option", { value: e.event, title: e.meaning, text: e.event })));
    }

    /* ---- passes ---- */

    function statusLabel(status) {
        const s = statusOf(status);
        return el("span", { class: "pf-c-label " + (TONE[s.tone] || ""), title: s.meaning, "data-tone": s.tone }, el("span", { class: "pf-c-label__content", text: s.label }));
    }

    function renderPasses(views) {
        const body = byId("passes-body");
        body.replaceChildren();
        byId("passes-empty").hidden = views.length !== 0;
        for (const v of views) {
            const actions = [el("button", { class: "pf-c-button pf-m-link pf-m-inline", type: "button", text: "Show", onclick: () => showPass(v.user) })];
            if (may("revoke") && statusOf(v.status).live) {
                actions.push(el("button", { class: "pf-c-button pf-m-link pf-m-danger pf-m-inline tap-revoke", type: "button", text: "Revoke", onclick: () => revokeDialog(v.user) }));
            }
            body.append(el("tr", { role: "row", "data-user": v.user, "data-status": v.status }, [
                cell("User", el("strong", { text: v.user })),
                cell("Status", [statusLabel(v.status), el("div", { class: "tap-why", text: statusOf(v.status).meaning })]),
                cell("Valid from", when(v.starts_at)),
                cell("Valid until", when(v.expires_at)),
                cell("One-time", v.one_time ? "yes" : "no"),
                cell("Issued by", v.issued_by),
                el("td", { role: "gridcell", class: "pf-c-table__action tap-actions" }, actions),
            ]));
        }
    }

    function loadPasses() {
        const args = ["list", "--json"];
        if (byId("passes-all").checked) args.splice(1, 0, "--all");
        return tapctl(args).then(renderPasses, err => alert("danger", "Could not list passes", err.message));
    }

    /* ---- issue ---- */

    function issueDialog() {
        const p = state.policy || {};
        const oneTimeDefault = p.force_one_time || p.one_time_default !== false;
        const form = el("form", { class: "pf-c-form", id: "issue-form", novalidate: true }, [
            field("issue-user", "User", text("issue-user", { required: true }), "The account that will log in with the pass."),
            field("issue-lifetime", "Lifetime", text("issue-lifetime", { placeholder: p.lifetime_default || "1h" }),
                  "Between " + (p.lifetime_min || "10m") + " and " + (p.lifetime_max || "15d") + "; empty: " + (p.lifetime_default || "the policy default") + "."),
            field("issue-start", "Starts", text("issue-start", { placeholder: "now" }), "Empty for now, +2h, or a time like 2026-01-31T09:00:00+01:00."),
            el("div", { class: "pf-c-form__group", role: "radiogroup", "aria-labelledby": "issue-kind-label" }, [
                el("div", { class: "pf-c-form__group-label" }, el("span", { class: "pf-c-form__label", id: "issue-kind-label" }, el("span", { class: "pf-c-form__label-text", text: "Use" }))),
                el("div", { class: "pf-c-form__group-control pf-m-inline" }, [
                    el("label", { class: "pf-c-radio" }, [el("input", { class: "pf-c-radio__input", type: "radio", name: "issue-kind", id: "issue-one-time", value: "one-time", checked: oneTimeDefault }), el("span", { class: "pf-c-radio__label", text: "One-time" })]),
                    el("label", { class: "pf-c-radio" }, [el("input", { class: "pf-c-radio__input", type: "radio", name: "issue-kind", id: "issue-reusable", value: "reusable", checked: !oneTimeDefault, disabled: !!p.force_one_time }), el("span", { class: "pf-c-radio__label", text: p.force_one_time ? "Reusable (the policy forces one-time)" : "Reusable until it expires" })]),
                ]),
            ]),
            el("div", { class: "pf-c-form__group" }, el("div", { class: "pf-c-form__group-control" },
                el("label", { class: "pf-c-check" }, [el("input", { class: "pf-c-check__input", type: "checkbox", id: "issue-keep-password", checked: p.reset_password === false }), el("span", { class: "pf-c-check__label", text: "Keep the account's password (no reset, no forced change)" })]))),
            el("div", { class: "pf-c-form__group" }, el("div", { class: "pf-c-form__group-control" },
                el("label", { class: "pf-c-check" }, [el("input", { class: "pf-c-check__input", type: "checkbox", id: "issue-enroll-key" }), el("span", { class: "pf-c-check__label", text: "Enrolls an SSH key (key-only servers): the pass only enrolls the key the user proves over SSH; the password is left alone" })]))),
            scopeFields(p),
            field("issue-hosts", "Hosts", text("issue-hosts", { placeholder: "any host" }), "Empty: any host. Host names (their config's host_name), separated by commas, narrow the pass to them."),
            field("issue-reason", "Reason", text("issue-reason", { maxlength: "500" }), "Recorded in the audit log."),
        ]);
        const submit = el("button", { class: "pf-c-button pf-m-primary", type: "submit", form: "issue-form", id: "issue-submit", text: "Issue pass" });
        const d = dialog("Issue a Temporary Access Pass", form, [submit, el("button", { class: "pf-c-button pf-m-link", type: "button", text: "Cancel", onclick: () => d.close() })], { size: "pf-m-md" });
        form.addEventListener("submit", ev => {
            ev.preventDefault();
            const user = byId("issue-user").value.trim();
            if (!user) {
                inlineError(d.body, "Name the user the pass is for.");
                return;
            }
            const args = ["issue", "--json"];
            const lifetime = byId("issue-lifetime").value.trim();
            const start = byId("issue-start").value.trim();
            const reason = byId("issue-reason").value.trim();
            if (lifetime) args.push("--lifetime=" + lifetime);
            if (start && start !== "now") args.push("--start=" + start);
            args.push(byId("issue-one-time").checked ? "--one-time" : "--reusable");
            if (byId("issue-keep-password").checked) args.push("--keep-password");
            if (byId("issue-enroll-key").checked) args.push("--enroll-key");
            if (reason) args.push("--reason=" + reason);
            for (const box of form.querySelectorAll("input[name=issue-service]:checked"))
                args.push("--service=" + box.value);
            for (const host of byId("issue-hosts").value.split(",").map(h => h.trim()).filter(h => h))
                args.push("--host=" + host);
            // `--` ends the options: a user name can never be read as one.
            args.push("--", user);
            submit.disabled = true;
            tapctl(args).then(issued => {
                d.close();
                // A target that needs a second operator's approval: a request, no pass (approval.js).
                if (issued.pass === undefined) document.dispatchEvent(new CustomEvent("tap:requested", { detail: issued }));
                else passDialog(issued);
            }, err => {
                submit.disabled = false;
                inlineError(d.body, err.message);
            });
        });
    }

    /* A box per service the policy admits: none ticked, the pass works at all of them. */
    function scopeFields(p) {
        const services = p.services || [];
        return el("div", { class: "pf-c-form__group", role: "group", "aria-labelledby": "issue-services-label" }, [
            el("div", { class: "pf-c-form__group-label" }, el("span", { class: "pf-c-form__label", id: "issue-services-label" }, el("span", { class: "pf-c-form__label-text", text: "Services" }))),
            el("div", { class: "pf-c-form__group-control pf-m-inline", id: "issue-services" }, services.map(name =>
                el("label", { class: "pf-c-check" }, [el("input", { class: "pf-c-check__input", type: "checkbox", name: "issue-service", value: name }), el("span", { class: "pf-c-check__label", text: name })]))),
            el("p", { class: "pf-c-form__helper-text", text: "None ticked: every service of the policy. Ticked: the pass works only there." }),
        ]);
    }

    /* The pass, shown once. `issued` is dropped when the dialog closes. */
    function passDialog(issued) {
        const groups = issued.pass.match(/.{1,4}/g) || [];
        const code = el("div", { class: "tap-pass", id: "tap-pass", "aria-label": "The pass, in groups of four: " + groups.join(", ") },
            groups.map(g => el("span", { class: "tap-pass-group", text: g })));
        const copied = el("span", { class: "tap-copied", role: "status" });
        const copy = el("button", { class: "pf-c-button pf-m-secondary", type: "button", id: "tap-copy", text: "Copy" });
        copy.addEventListener("click", () => {
            copyText(issued.pass, code).then(() => { copied.textContent = "Copied" }, () => { copied.textContent = "Copy failed: read it out instead" });
        });
        const next = issued.enroll_key
            ? "On their own machine " + issued.user + " makes a key (ssh-keygen) and runs ssh to the server; it asks for the pass once and enrolls that key, which then logs in alone."
            : issued.reset_password
            ? issued.user + " logs in with it and is asked at once to choose a new password. Their old password no longer works."
            : issued.user + " logs in with it; their password is unchanged and no change is forced.";
        const body = [
            el("div", { class: "pf-c-alert pf-m-inline pf-m-warning" }, el("p", { class: "pf-c-alert__title", text: "This is the only time the pass is shown. Give it to " + issued.user + " through a trusted channel." })),
            el("div", { class: "tap-pass-row" }, [code, copy, copied]),
            el("dl", { class: "pf-c-description-list pf-m-horizontal pf-m-compact tap-pass-facts" }, [
                fact("For", issued.user + " (pass " + issued.pass_id + ")"),
                fact("Valid from", when(issued.starts_at)),
                fact("Valid until", when(issued.expires_at)),
                fact("Use", issued.one_time ? "One-time" : "Reusable until it expires"),
                issued.services ? fact("Services", issued.services.split(",").join(", ")) : null,
                issued.hosts ? fact("Hosts", issued.hosts.split(",").join(", ")) : null,
                fact("Next", next),
                issued.note ? fact("Note", issued.note) : null,
            ]),
            el("p", { class: "tap-hint", text: "Not case-sensitive; dashes and spaces are ignored." }),
        ];
        const d = dialog("Temporary Access Pass for " + issued.user, body,
            [el("button", { class: "pf-c-button pf-m-primary", type: "button", id: "tap-pass-done", text: "Done", onclick: () => d.close() })],
            {
                size: "pf-m-md",
                onclose: () => {
                    code.replaceChildren();
                    issued.pass = null;
                    loadPasses();
                },
            });
        copy.focus();
    }

    /* ---- show, revoke ---- */

    function showPass(user) {
        tapctl(["show", "--json", "--", user]).then(v => {
            const d = dialog("Pass " + v.id + " for " + v.user, el("dl", { class: "pf-c-description-list pf-m-horizontal pf-m-compact" }, [
                fact("Status", statusOf(v.status).label + " — " + statusOf(v.status).meaning),
                fact("Issued", when(v.created_at) + " by " + v.issued_by),
                fact("Valid from", when(v.starts_at)),
                fact("Valid until", when(v.expires_at)),
                fact("One-time", v.one_time ? "yes" : "no"),
                fact("Password reset", v.reset_password ? "yes (change forced at first login)" : "no"),
                fact("Used", v.used_at ? when(v.used_at) + " (" + v.use_count + " time(s))" : "no"),
                fact("Wrong answers", String(v.failures)),
                fact("Locked", when(v.locked_at)),
                fact("Revoked", when(v.revoked_at)),
                fact("Services", v.services ? v.services.split(",").join(", ") : "those of the policy"),
                fact("Hosts", v.hosts ? v.hosts.split(",").join(", ") : "any host"),
                v.enroll_key ? fact("Enrolls", "an SSH key (key-only servers)") : null,
                v.reason ? fact("Reason", v.reason) : null,
            ]), [el("button", { class: "pf-c-button pf-m-primary", type: "button", text: "Close", onclick: () => d.close() })], { size: "pf-m-md" });
        }, err => alert("danger", "Could not show " + user + "'s pass", err.message));
    }

    function revokeDialog(user) {
        const form = el("form", { class: "pf-c-form", id: "revoke-form" }, [
            el("p", { text: "The pass stops working at once. An unused pass also gives back the account's previous password." }),
            field("revoke-reason", "Reason", text("revoke-reason", { maxlength: "500" }), "Recorded in the audit log."),
        ]);
        const submit = el("button", { class: "pf-c-button pf-m-danger", type: "submit", form: "revoke-form", id: "revoke-submit", text: "Revoke" });
        const d = dialog("Revoke " + user + "'s pass?", form, [submit, el("button", { class: "pf-c-button pf-m-link", type: "button", text: "Cancel", onclick: () => d.close() })]);
        form.addEventListener("submit", ev => {
            ev.preventDefault();
            const args = ["revoke", "--json"];
            const reason = byId("revoke-reason").value.trim();
            if (reason) args.push("--reason=" + reason);
            args.push("--", user);
            submit.disabled = true;
            tapctl(args).then(r => {
                d.close();
                alert("success", "Revoked pass " + r.pass_id + " of " + r.user + (r.restored ? "; the account's previous password is back" : ""));
                loadPasses();
            }, err => {
                submit.disabled = false;
                inlineError(d.body, err.message);
            });
        });
    }

    /* ---- audit log ---- */

    function eventMeaning(event) {
        const found = state.vocab.events.find(e => e.event === event);
        return found ? found.meaning : "";
    }

    function loadLog() {
        const user = byId("log-user").value.trim();
        const event = byId("log-event").value;
        const operator = byId("log-operator").value.trim();
        const args = ["log", "--json"];
        if (user) args.push("--", user);
        return tapctl(args).then(entries => {
            const body = byId("log-body");
            body.replaceChildren();
            entries
                    .filter(e => (!event || e.event === event) && (!operator || e.operator === operator))
                    .reverse()
                    .forEach(e => body.append(el("tr", { role: "row", "data-event": e.event }, [
                        cell("Time", when(e.at)), cell("Event", el("span", { title: eventMeaning(e.event), text: e.event })), cell("User", e.user || "–"),
                        cell("Pass", e.pass_id === null ? "–" : String(e.pass_id)), cell("Operator", e.operator || "–"),
                        cell("Service", e.service || "–"), cell("Remote host", e.rhost || "–"), cell("Reason", e.reason || ""),
                    ])));
        }, err => alert("danger", "Could not read the audit log", err.message));
    }

    /* ---- policy, doctor ---- */

    function renderPolicy(p) {
        const show = v => Array.isArray(v) ? (v.length ? v.join(", ") : "(none)") : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
        byId("policy-body").replaceChildren(el("dl", { class: "pf-c-description-list pf-m-horizontal pf-m-compact" },
            Object.entries(p).map(([k, v]) => fact(k, show(v)))));
    }

    function loadDoctor() {
        return tapctl(["doctor", "--json"], true).then(found => {
            const body = byId("doctor-body");
            body.replaceChildren();
            const color = { ok: "pf-m-green", warn: "pf-m-orange", fail: "pf-m-red" };
            for (const c of found.checks || []) {
                body.append(el("tr", { role: "row" }, [
                    cell("Result", el("span", { class: "pf-c-label " + (color[c.status] || "") }, el("span", { class: "pf-c-label__content", text: c.status }))),
                    cell("Check", c.check),
                    cell("Finding", [el("div", { text: c.message }), c.fix ? el("div", { class: "tap-why", text: "Fix: " + c.fix }) : null]),
                ]));
            }
        }, err => alert("danger", "Could not run tapctl doctor", err.message));
    }

    /* ---- tabs ---- */

    const loaders = { "panel-passes": loadPasses, "panel-log": loadLog, "panel-policy": () => state.policy && renderPolicy(state.policy), "panel-doctor": loadDoctor };

    function selectTab(button) {
        clearAlerts();
        for (const b of document.querySelectorAll("#tap-tabs .pf-c-tabs__link")) {
            const on = b === button;
            b.setAttribute("aria-selected", on ? "true" : "false");
            b.tabIndex = on ? 0 : -1;
            b.parentElement.classList.toggle("pf-m-current", on);
            byId(b.dataset.panel).hidden = !on;
        }
        loaders[button.dataset.panel]();
    }

    function initTabs() {
        const buttons = [...document.querySelectorAll("#tap-tabs .pf-c-tabs__link")];
        buttons.forEach((b, i) => {
            b.addEventListener("click", () => selectTab(b));
            b.addEventListener("keydown", ev => { // arrow keys move between tabs, as WAI-ARIA tabs do
                const step = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
                if (!step) return;
                const next = buttons[(i + step + buttons.length) % buttons.length];
                next.focus();
                selectTab(next);
            });
        });
    }

    function start() {
        initTabs();
        byId("passes-all").addEventListener("change", loadPasses);
        byId("passes-refresh").addEventListener("click", loadPasses);
        byId("issue-open").addEventListener("click", issueDialog);
        byId("log-filters").addEventListener("submit", ev => { ev.preventDefault(); loadLog() });
        // The vocabulary first: it is also tapctl's answer to who this operator is.
        Promise.all([cockpit.user(), tapctl(["vocabulary", "--json"])]).then(([me, vocab]) => {
            state.vocab = vocab;
            renderLegend();
            renderEventFilter();
            byId("tap-whoami").textContent = "Signed in as " + me.name + " — " + roleLabel();
            byId("issue-open").hidden = !may("issue");
            document.body.dataset.role = vocab.you.role;
            document.dispatchEvent(new CustomEvent("tap:ready"));
            return tapctl(["policy", "--json"]);
        }).then(policy => {
            state.policy = policy;
            return loadPasses();
        }, err => {
            byId("tap-whoami").textContent = "";
            alert("danger", "tapctl cannot run for this account", err.message);
        }).finally(() => { document.body.dataset.ready = "1" });
    }

    // What the page's other scripts (approval.js, keys.js, status.js) build on: the same tapctl
    // runs, alerts, pass dialog and role check, a place for a tab's loader, and the vocabulary
    // once loaded with the colour of each tone.
    window.tapPage = { tapctl, alert, clearAlerts, passDialog, may, loaders, vocab: () => state.vocab, TONE };
    start();
}());
