/* pam_tap's Cockpit page: two-person approval. Requests for a pass waiting for a decision or a
 * collection (`tapctl requests --json`), with Approve and Deny for an operator tapctl says may
 * decide each one, and Collect for its requester. tapctl decides; the buttons only follow its
 * `may_decide`, `may_collect` and the vocabulary's `may`. Loaded after tap.js. */
"use strict";

(function () {
    const { el, byId, when, cell, dialog, field, text, inlineError, fact } = window.tapUi;
    const page = () => window.tapPage;

    function section() {
        let box = byId("requests-box");
        if (box) return box;
        box = el("div", { id: "requests-box", class: "tap-requests", hidden: true }, [
            el("h2", { class: "pf-c-title pf-m-lg", text: "Requests waiting for a second operator" }),
            el("table", { class: "pf-c-table pf-m-grid-md pf-m-compact", role: "grid", "aria-label": "Requests" }, [
                el("thead", {}, el("tr", { role: "row" }, ["Request", "User", "State", "Requested by", "Reason", "Terms", "Deadline", ""].map(h =>
                    el("th", { role: "columnheader", scope: "col", text: h })))),
                el("tbody", { id: "requests-body" }),
            ]),
        ]);
        byId("panel-passes").prepend(box);
        return box;
    }

    function terms(t) {
        const parts = [t.lifetime_secs / 60 + " min", t.one_time ? "one-time" : "reusable"];
        if (t.keep_password) parts.push("password kept");
        if (t.services.length) parts.push("services " + t.services.join(", "));
        if (t.hosts.length) parts.push("hosts " + t.hosts.join(", "));
        return parts.join("; ");
    }

    function render(requests) {
        const box = section();
        box.hidden = requests.length === 0;
        byId("requests-body").replaceChildren(...requests.map(r => {
            const actions = [];
            if (r.may_decide && page().may("approve"))
                actions.push(el("button", { class: "pf-c-button pf-m-link pf-m-inline tap-approve", type: "button", text: "Approve", onclick: () => approve(r) }));
            if (r.may_decide && page().may("deny"))
                actions.push(el("button", { class: "pf-c-button pf-m-link pf-m-danger pf-m-inline tap-deny", type: "button", text: "Deny", onclick: () => denyDialog(r) }));
            if (r.may_collect && page().may("collect"))
                actions.push(el("button", { class: "pf-c-button pf-m-primary pf-m-inline tap-collect", type: "button", text: "Collect the pass", onclick: () => collect(r) }));
            return el("tr", { role: "row", "data-request": String(r.id) }, [
                cell("Request", String(r.id)),
                cell("User", r.user),
                cell("State", r.state),
                cell("Requested by", r.requested_by + " (" + when(r.requested_at) + ")"),
                cell("Reason", r.reason || "–"),
                cell("Terms", terms(r.terms)),
                cell("Deadline", when(r.collect_by || r.decide_by)),
                cell("Actions", actions),
            ]);
        }));
    }

    function load() {
        if (!page().may("requests")) return Promise.resolve();
        return page().tapctl(["requests", "--json"]).then(render, err => page().alert("danger", "Could not list requests", err.message));
    }

    function approve(r) {
        page().tapctl(["approve", "--json", "--", String(r.id)]).then(v => {
            page().alert("success", "Request " + v.id + " for " + v.user + " approved", v.requested_by + " may now collect the pass, until " + when(v.collect_by) + ".");
            load();
        }, err => page().alert("danger", "Request " + r.id + " was not approved", err.message));
    }

    function denyDialog(r) {
        const form = el("form", { class: "pf-c-form", id: "deny-form", novalidate: true }, [
            el("dl", { class: "pf-c-description-list pf-m-horizontal pf-m-compact" }, [
                fact("User", r.user), fact("Requested by", r.requested_by), fact("Reason", r.reason || "–"), fact("Terms", terms(r.terms)),
            ]),
            field("deny-reason", "Why not", text("deny-reason", { maxlength: "500", required: true }), "Shown to " + r.requested_by + " and recorded in the audit log."),
        ]);
        const submit = el("button", { class: "pf-c-button pf-m-danger", type: "submit", form: "deny-form", id: "deny-submit", text: "Deny" });
        const d = dialog("Deny request " + r.id, form, [submit, el("button", { class: "pf-c-button pf-m-link", type: "button", text: "Cancel", onclick: () => d.close() })]);
        form.addEventListener("submit", ev => {
            ev.preventDefault();
            const reason = byId("deny-reason").value.trim();
            if (!reason) {
                inlineError(d.body, "Say why: " + r.requested_by + " is shown it.");
                return;
            }
            submit.disabled = true;
            page().tapctl(["deny", "--json", "--reason=" + reason, "--", String(r.id)]).then(() => {
                d.close();
                load();
            }, err => {
                submit.disabled = false;
                inlineError(d.body, err.message);
            });
        });
    }

    function collect(r) {
        page().tapctl(["collect", "--json", "--", String(r.id)]).then(issued => {
            page().passDialog(issued);
            load();
        }, err => page().alert("danger", "Request " + r.id + " could not be collected", err.message));
    }

    document.addEventListener("tap:ready", () => {
        section();
        byId("passes-refresh").addEventListener("click", load);
        load();
    });
    document.addEventListener("tap:requested", ev => {
        const r = ev.detail;
        page().alert("info", "Request " + r.id + " recorded: no pass yet",
            "A pass for " + r.user + " needs a second operator's approval. Once another operator approves it, collect the pass here (Collect the pass) before " + "it lapses.");
        load();
    });
}());
