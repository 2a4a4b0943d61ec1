/* pam_tap's Cockpit page: DOM and dialog helpers (PatternFly 4 markup), loaded before tap.js.
 * Everything is built with textContent and attributes: nothing tapctl prints is parsed as HTML. */
"use strict";

window.tapUi = (function () {
    /* ---- small DOM helpers (text only: nothing from tapctl is parsed as HTML) ---- */

    function el(tag, attrs, children) {
        const node = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (v === null || v === undefined || v === false) continue;
            if (k === "class") node.className = v;
            else if (k === "text") node.textContent = v;
            else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
            else node.setAttribute(k, v === true ? "" : v);
        }
        for (const c of [].concat(children || [])) {
            if (c !== null && c !== undefined) node.append(c);
        }
        return node;
    }

    function byId(id) {
        return document.getElementById(id);
    }

    function when(t) {
        if (!t) return "–";
        const d = new Date(t);
        return isNaN(d) ? String(t) : d.toLocaleString();
    }

    function cell(label, content) {
        return el("td", { role: "gridcell", "data-label": label }, content);
    }


    /* ---- dialogs ---- */

    function dialog(title, body, footer, opts) {
        const previous = document.activeElement;
        const titleId = "dlg-title-" + Math.random().toString(36).slice(2);
        const box = el("div", { class: "pf-c-modal-box " + ((opts && opts.size) || "pf-m-sm"), role: "dialog", "aria-modal": "true", "aria-labelledby": titleId }, [
            el("button", { class: "pf-c-button pf-m-plain", type: "button", "aria-label": "Close", onclick: () => close() }, el("span", { "aria-hidden": "true", text: "×", class: "tap-close" })),
            el("header", { class: "pf-c-modal-box__header" }, el("h1", { class: "pf-c-modal-box__title", id: titleId, text: title })),
            el("div", { class: "pf-c-modal-box__body" }, body),
            el("footer", { class: "pf-c-modal-box__footer" }, footer),
        ]);
        const backdrop = el("div", { class: "pf-c-backdrop" }, el("div", { class: "pf-l-bullseye" }, box));
        function close() {
            if (opts && opts.onclose) opts.onclose();
            // Removing the nodes is what keeps a pass out of the document once the dialog is gone.
            backdrop.remove();
            if (previous && previous.focus) previous.focus();
        }
        backdrop.addEventListener("keydown", ev => {
            if (ev.key === "Escape") close();
            if (ev.key === "Tab") { // keep focus inside the dialog
                const f = box.querySelectorAll("button:not([disabled]), input:not([disabled]), select, textarea");
                if (f.length === 0) return;
                if (ev.shiftKey && document.activeElement === f[0]) { f[f.length - 1].focus(); ev.preventDefault() }
                else if (!ev.shiftKey && document.activeElement === f[f.length - 1]) { f[0].focus(); ev.preventDefault() }
            }
        });
        byId("tap-dialogs").append(backdrop);
        const first = box.querySelector("input, select, .pf-m-primary, .pf-m-danger");
        if (first) first.focus();
        return { box, close, body: box.querySelector(".pf-c-modal-box__body"), footer: box.querySelector(".pf-c-modal-box__footer") };
    }

    function field(id, label, input, help) {
        return el("div", { class: "pf-c-form__group" }, [
            el("div", { class: "pf-c-form__group-label" }, el("label", { class: "pf-c-form__label", for: id }, el("span", { class: "pf-c-form__label-text", text: label }))),
            el("div", { class: "pf-c-form__group-control" }, [input, help ? el("p", { class: "pf-c-form__helper-text", text: help }) : null]),
        ]);
    }

    function text(id, attrs) {
        return el("input", Object.assign({ class: "pf-c-form-control", type: "text", id, autocomplete: "off", spellcheck: "false" }, attrs || {}));
    }

    function inlineError(where, message) {
        const old = where.querySelector(".tap-dialog-error");
        if (old) old.remove();
        where.prepend(el("div", { class: "pf-c-alert pf-m-inline pf-m-danger tap-dialog-error", role: "alert" }, [
            el("p", { class: "pf-c-alert__title", text: "tapctl refused" }),
            el("div", { class: "pf-c-alert__description" }, el("p", { class: "tap-refusal", text: message })),
        ]));
    }

    /* The clipboard API where the browser grants it; otherwise select the shown pass and copy
     * that selection (no extra node carries the pass). */
    function copyText(value, node) {
        const bySelection = () => {
            const range = document.createRange();
            range.selectNodeContents(node);
            const sel = window.getSelection();
            sel.removeAllRanges();
            sel.addRange(range);
            const ok = document.execCommand("copy");
            sel.removeAllRanges();
            return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
        };
        if (navigator.clipboard && navigator.clipboard.writeText)
            return navigator.clipboard.writeText(value).catch(bySelection);
        return bySelection();
    }

    function fact(term, value) {
        return el("div", { class: "pf-c-description-list__group" }, [
            el("dt", { class: "pf-c-description-list__term" }, el("span", { class: "pf-c-description-list__text", text: term })),
            el("dd", { class: "pf-c-description-list__description" }, el("div", { class: "pf-c-description-list__text", text: value })),
        ]);
    }

    return { el, byId, when, cell, dialog, field, text, inlineError, copyText, fact };
}());
