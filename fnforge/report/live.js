
// `fnforge watch`: ask /state.json twice a second; draw the step in flight from it, and when a
// step was recorded (its `version` changed) fetch the page again and swap in the new run
// section, keeping the diffs a reader opened. No reload, and nothing is ever sent but GETs.
(function () {
  const status = document.getElementById("live-status");
  let version = document.getElementById("run").dataset.version;

  async function refreshRun() {
    const text = await (await fetch("./", { cache: "no-store" })).text();
    const fresh = new DOMParser().parseFromString(text, "text/html").getElementById("run");
    if (!fresh) return;
    const current = document.getElementById("run");
    const open = new Set(Array.from(current.querySelectorAll("details[open][id]")).map((d) => d.id));
    const next = document.importNode(fresh, true);
    next.querySelectorAll("details[id]").forEach((d) => { if (open.has(d.id)) d.open = true; });
    // a chart stays as it was until its new picture has loaded (drawing it takes a moment)
    next.querySelectorAll("img.chart[id]").forEach((img) => {
      const old = document.getElementById(img.id);
      if (!old) return;
      const wanted = img.getAttribute("src");
      img.src = old.src;
      const loader = new Image();
      loader.onload = () => { img.src = wanted; };
      loader.src = wanted;
    });
    current.replaceWith(next);
    version = fresh.dataset.version;
  }

  async function tick() {
    try {
      const state = await (await fetch("state.json", { cache: "no-store" })).json();
      fnforgeShowInFlight(state.in_flight);
      if (state.version !== version) await refreshRun();
      status.textContent = `live · ${state.summary.steps} steps · checked ${new Date().toLocaleTimeString("en-GB")}`;
      status.style.color = "";
    } catch (e) {
      status.textContent = "live · cannot reach fnforge watch; retrying";
      status.style.color = "#cf222e";
    }
    setTimeout(tick, 500);
  }
  setTimeout(tick, 500);
})();
