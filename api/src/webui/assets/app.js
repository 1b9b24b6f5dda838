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

// The run form: function names to complete from the target's minions
// (sys.list_functions), and the chosen function's arguments (sys.argspec).
function runForm(form) {
  const tgt = form.querySelector("#run-tgt");
  const type = form.querySelector("#run-tgt-type");
  const fun = form.querySelector("#run-fun");
  const list = form.querySelector("#functions");
  const hint = form.querySelector("#fun-hint");
  const query = (extra) => new URLSearchParams({ tgt: tgt.value, tgt_type: type.value, ...extra });
  let loadedFor = null;
  const loadNames = async () => {
    const key = `${type.value} ${tgt.value}`;
    if (key === loadedFor) return;
    loadedFor = key;
    try {
      const answer = await (await fetch(`${form.dataset.functions}?${query({})}`)).json();
      list.replaceChildren(...(answer.names || []).map((name) => {
        const option = document.createElement("option");
        option.value = name;
        return option;
      }));
    } catch (e) { /* no completion: the field still takes any name */ }
  };
  const loadHint = async () => {
    if (!fun.value.includes(".")) { hint.textContent = ""; return; }
    try {
      const answer = await (await fetch(`${form.dataset.argspec}?${query({ fun: fun.value })}`)).json();
      hint.textContent = answer.hint || "";
    } catch (e) { hint.textContent = ""; }
  };
  fun.addEventListener("focus", loadNames);
  fun.addEventListener("change", loadHint);
  tgt.addEventListener("change", () => { loadedFor = null; });
  loadHint();
}

// A job page: returns arrive over an event stream and fill their sections.
function jobStream(results) {
  const status = document.getElementById("job-status");
  const section = (id) => results.querySelector(`section[data-id="${CSS.escape(id)}"]`);
  const source = new EventSource(results.dataset.stream);
  let returned = 0;
  source.addEventListener("ret", (e) => {
    const ret = JSON.parse(e.data);
    const box = section(ret.id);
    if (!box) return;
    returned++;
    box.classList.toggle("failed", ret.failed);
    box.querySelector(".ret-state").textContent = ret.failed ? "failed" : "returned";
    box.querySelector("pre.out").innerHTML = ret.html; // rendered and escaped by brine-api
    box.querySelector("pre.raw").textContent = ret.raw;
    box.querySelector(".failures").replaceChildren(...ret.failures.map((f) => {
      const li = document.createElement("li");
      li.textContent = f;
      return li;
    }));
    status.textContent = `${returned} returned, waiting for the rest…`;
  });
  source.addEventListener("done", (e) => {
    source.close();
    const missing = JSON.parse(e.data).missing || {};
    for (const [id, why] of Object.entries(missing)) {
      const box = section(id);
      if (!box) continue;
      box.classList.add("failed");
      box.querySelector(".ret-state").textContent = why;
    }
    const absent = Object.keys(missing).length;
    status.textContent = absent ? `${returned} returned; ${absent} did not return.` : `All ${returned} returned.`;
  });
}

// The raw JSON switch of a job page.
function rawSwitch(box) {
  box.addEventListener("change", () => {
    for (const pre of document.querySelectorAll("pre.raw")) pre.hidden = !box.checked;
    for (const pre of document.querySelectorAll("pre.out")) pre.hidden = box.checked;
  });
}

// A glob (`*`, `?`) as a regular expression over a whole tag.
function globRegExp(glob) {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`);
}

// The events page: the bus, live, newest first, filtered by tag.
function eventTail(list) {
  const filter = document.getElementById("tag-filter");
  const count = document.getElementById("event-count");
  const apply = () => {
    const re = globRegExp(filter.value || "*");
    let shown = 0;
    for (const li of list.children) {
      li.hidden = !re.test(li.dataset.tag);
      if (!li.hidden) shown++;
    }
    count.textContent = `${shown} shown`;
  };
  filter.addEventListener("input", apply);
  const source = new EventSource(list.dataset.stream);
  source.onmessage = (e) => {
    const event = JSON.parse(e.data);
    const li = document.createElement("li");
    li.dataset.tag = event.tag;
    const tag = document.createElement("div");
    tag.className = "tag";
    tag.textContent = event.tag;
    const data = document.createElement("pre");
    data.textContent = JSON.stringify(event.data, null, 1);
    li.append(tag, data);
    list.prepend(li);
    while (list.children.length > 200) list.lastElementChild.remove();
    apply();
  };
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-live-match]")) liveMatch(form);
  for (const form of document.querySelectorAll("form[data-functions]")) runForm(form);
  const results = document.querySelector("#results[data-stream]");
  if (results) jobStream(results);
  const raw = document.getElementById("raw-switch");
  if (raw) rawSwitch(raw);
  const events = document.querySelector("#events[data-stream]");
  if (events) eventTail(events);
});
