// The step in flight, drawn from the trainer's state (.git/fnforge/in-flight.json): phase,
// tasks done of total, the run's spend so far and its budget. The report draws it once from
// the state embedded in the page; `fnforge watch` draws it again from each /state.json.
function fnforgeShowInFlight(s) {
  const box = document.getElementById("in-flight");
  box.replaceChildren();
  const add = (tag, text, cls) => {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    box.appendChild(el);
    return el;
  };
  if (!s) {
    box.className = "in-flight idle";
    box.dataset.phase = "";
    add("span", "No step in flight: no run is training.");
    return;
  }
  box.className = s.stale ? "in-flight stale" : "in-flight";
  box.dataset.phase = s.phase;
  box.dataset.step = s.step;
  add("b", `Step ${s.step} in flight`);
  add("span", ` (run ${s.run}): `);
  add("span", s.phase_label || s.phase, "phase");
  if (s.tasks && s.tasks.total) {
    const bar = add("progress", "");
    bar.max = s.tasks.total;
    bar.value = s.tasks.done;
    add("span", `${s.tasks.done}/${s.tasks.total} tasks (${s.tasks.split})`, "tasks");
  }
  const sp = s.spend || {};
  const cost = Number(sp.cost_usd || 0).toFixed(4);
  add("span", ` · spent so far: ${sp.http_requests || 0} requests, ${Number(sp.tokens || 0).toLocaleString("en")} tokens, $${cost}`, "spend");
  if (s.budget && typeof s.budget === "object") {
    const limits = s.budget.limits || {};
    const spent = s.budget.spent || {};
    const parts = Object.keys(limits).filter((k) => limits[k] !== null && limits[k] !== undefined && limits[k] !== 0)
      .map((k) => `${k} ${spent[k] ?? 0} of ${limits[k]}`);
    if (parts.length) add("span", ` · budget: ${parts.join(", ")}`, "budget");
  }
  if (s.stale) add("span", " · its trainer is gone (killed?): `fnforge train --resume` redoes this step", "stale");
  else if (s.updated_at) add("span", ` · updated ${new Date(s.updated_at).toLocaleTimeString("en-GB")}`, "updated");
}

fnforgeShowInFlight(JSON.parse(document.getElementById("in-flight-data").textContent));
