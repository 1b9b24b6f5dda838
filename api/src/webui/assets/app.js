// Brine's dashboard: progressive enhancement only; every page works
// without this file.
"use strict";

// The minions filter: as the target is typed, ask the master which minions
// it matches and show only those rows.
function liveMatch(form) {
  const url = form.dataset.liveMatch;
  const tgt = form.querySelector("#tgt");
  const type = form.querySelector("#tgt_type");
  const count = form.querySelector("#match-count");
  const rows = Array.from(document.querySelectorAll("table.minions tbody tr[data-id]"));
  let timer = null;
  let asked = 0;
  const ask = async () => {
    const mine = ++asked;
    const query = new URLSearchParams({ tgt: tgt.value || "*", tgt_type: type.value });
    let answer;
    try {
      const reply = await fetch(`${url}?${query}`, { credentials: "same-origin" });
      answer = await reply.json();
    } catch (e) {
      answer = { error: "the dashboard did not answer" };
    }
    if (mine !== asked) return; // a newer question is on its way
    if (answer.error) {
      count.textContent = answer.error;
      return;
    }
    const matched = new Set(answer.ids);
    let shown = 0;
    for (const row of rows) {
      row.hidden = !matched.has(row.dataset.id);
      if (!row.hidden) shown++;
    }
    count.textContent = `${shown} shown`;
  };
  const soon = () => { clearTimeout(timer); timer = setTimeout(ask, 200); };
  tgt.addEventListener("input", soon);
  type.addEventListener("change", soon);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-live-match]")) liveMatch(form);
});
