/* pam_tap's Cockpit page: beside each pass in the passes table, whether it would log in on this
 * host now and, if not, why and until when (`tapctl status USER --json`: the module's own
 * decision). Loaded after tap.js; reads the vocabulary tap.js loaded (window.tapPage.vocab) and
 * renders each reason's label and meaning from it, never words of its own. */
"use strict";

(function () {
    const { el, byId, when } = window.tapUi;

    /* A verdict as the row shows it: the reason's label in its tone, and its moment. */
    function verdictLabel(page, v) {
        const r = page.vocab().reasons.find(x => x.reason === v.reason) ||
            { reason: v.reason, label: v.reason, tone: "neutral", meaning: "", remedy: "" };
        const moment = v.until ? " until " + when(v.until) : v.since ? " since " + when(v.since) : "";
        const title = [r.meaning, v.detail, r.remedy].filter(Boolean).join(" — ");
        return el("div", { class: "tap-verdict", "data-reason": v.reason, "data-usable": v.usable ? "1" : "0" }, [
            el("span", { class: "pf-c-label pf-m-outline " + (page.TONE[r.tone] || ""), title, "data-tone": r.tone },
                el("span", { class: "pf-c-label__content", text: r.label })),
            el("span", { class: "tap-why", text: moment + (v.detail ? " (" + v.detail + ")" : "") }),
        ]);
    }

    /* Asks tapctl about each row's user once the table is drawn; a refusal shows as its message. */
    function annotate(page, row) {
        if (row.dataset.verdict) return;
        row.dataset.verdict = "asking";
        const where = row.querySelector("td[data-label='Status']");
        page.tapctl(["status", "--json", "--", row.dataset.user]).then(v => {
            row.dataset.verdict = v.reason;
            where.append(verdictLabel(page, v));
        }, err => {
            row.dataset.verdict = "error";
            where.append(el("div", { class: "tap-why", text: err.message }));
        });
    }

    function start() {
        const body = byId("passes-body");
        const seen = () => {
            const page = window.tapPage;
            if (!page || !page.vocab() || !page.vocab().reasons || !page.may("status")) return;
            // Newest pass first: the verdict is about a user's newest pass, so only its row gets one.
            const users = new Set();
            body.querySelectorAll("tr[data-user]").forEach(row => {
                if (!users.has(row.dataset.user)) annotate(page, row);
                users.add(row.dataset.user);
            });
        };
        new MutationObserver(seen).observe(body, { childList: true });
        seen();
    }

    start();
}());
