// Renews the gate pass shortly before it expires, so the driver never shows a dead code.
"use strict";
(function () {
  const figure = document.querySelector(".js-pass");
  if (!figure) { return; }
  const state = document.querySelector(".js-pass-state");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const MARGIN = 15;

  function schedule(expiresIn) {
    const wait = Math.max(expiresIn - MARGIN, 5) * 1000;
    setTimeout(renew, wait);
  }

  async function renew() {
    try {
      const response = await fetch("/driver/pass", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) { throw new Error(String(response.status)); }
      const fresh = await response.json();
      figure.innerHTML = fresh.qr_svg;
      figure.dataset.expiresIn = String(fresh.expires_in);
      schedule(fresh.expires_in);
    } catch (error) {
      if (state) { state.textContent = state.dataset.failed; }
    }
  }

  schedule(Number(figure.dataset.expiresIn || "60"));

  // The gate's answer shows here when it comes (asked every few seconds while visible).
  const answer = document.querySelector(".js-gate-answer");
  async function ask() {
    if (document.hidden || !answer || !answer.hidden) { return; }
    try {
      const response = await fetch("/driver/gate", { headers: { "Accept": "application/json" } });
      if (!response.ok) { return; }
      const newest = await response.json();
      if (newest && Date.parse(newest.decided_at) > Date.parse(answer.dataset.since) && answer.dataset[newest.decision]) {
        answer.textContent = answer.dataset[newest.decision];
        answer.classList.add("decision-" + newest.decision);
        answer.hidden = false;
      }
    } catch (error) { /* asked again at the next turn */ }
  }
  if (answer) { setInterval(ask, 5000); }
})();
