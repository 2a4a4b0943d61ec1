/* pam_tap's Cockpit page, "SSH keys" tab: the keys passes enrolled on key-only servers, from
 * `tapctl keys list --json`, each with Revoke for an operator whose role may run `keys revoke`
 * (tapctl decides again: the button only saves a refused run). Loaded after tap.js. */
"use strict";

(function () {
    const { el, byId, when, cell, dialog, field, text, inlineError } = window.tapUi;
    const page = window.tapPage;

    function revokeKeyDialog(k) {
        const form = el("form", { class: "pf-c-form", id: "key-revoke-form" }, [
            el("p", { text: "The key stops logging in at once (on a fleet, on every host at its next key lookup)." }),
            el("p", { class: "tap-fingerprint", text: k.fingerprint }),
            field("key-revoke-reason", "Reason", text("key-revoke-reason", { maxlength: "500" }), "Recorded in the audit log."),
        ]);
        const submit = el("button", { class: "pf-c-button pf-m-danger", type: "submit", form: "key-revoke-form", id: "key-revoke-submit", text: "Revoke key" });
        const d = dialog("Revoke " + k.user + "'s key?", form, [submit, el("button", { class: "pf-c-button pf-m-link", type: "button", text: "Cancel", onclick: () => d.close() })]);
        form.addEventListener("submit", ev => {
            ev.preventDefault();
            const args = ["keys", "revoke", "--json"];
            const reason = byId("key-revoke-reason").value.trim();
            if (reason) args.push("--reason=" + reason);
            // `--` ends the options: neither the user nor the fingerprint is read as one.
            args.push("--", k.user, k.fingerprint);
            submit.disabled = true;
            page.tapctl(args).then(r => {
                d.close();
                page.alert("success", "Revoked key " + r.fingerprint + " of " + r.user);
                loadKeys();
            }, err => {
                submit.disabled = false;
                inlineError(d.body, err.message);
            });
        });
    }

    function renderKeys(keys) {
        const body = byId("keys-body");
        body.replaceChildren();
        byId("keys-empty").hidden = keys.length !== 0;
        for (const k of keys) {
            const actions = page.may("keys revoke")
                ? [el("button", { class: "pf-c-button pf-m-link pf-m-danger pf-m-inline tap-key-revoke", type: "button", text: "Revoke", onclick: () => revokeKeyDialog(k) })]
                : [];
            body.append(el("tr", { role: "row", "data-user": k.user, "data-fingerprint": k.fingerprint }, [
                cell("User", el("strong", { text: k.user })),
                cell("Key", [el("div", { class: "tap-fingerprint", text: k.fingerprint }), el("div", { class: "tap-why", text: k.key_type })]),
                cell("Enrolled", when(k.enrolled_at)),
                cell("On host", k.host || "–"),
                cell("Logs in on", k.hosts ? k.hosts.split(",").join(", ") : "any host"),
                cell("Pass", k.pass_id === null ? "–" : String(k.pass_id)),
                el("td", { role: "gridcell", class: "pf-c-table__action tap-actions" }, actions),
            ]));
        }
    }

    function loadKeys() {
        return page.tapctl(["keys", "list", "--json"]).then(renderKeys, err => page.alert("danger", "Could not list the enrolled keys", err.message));
    }

    page.loaders["panel-keys"] = loadKeys;
    byId("keys-refresh").addEventListener("click", loadKeys);
}());
