// Training: the runs the processor has recorded (GET /v1/training/runs, refreshed every 15 s,
// with each workload's goodput read lazily), and one run's charts (#/training/<uid>/<serial>,
// GET /ui/api/training/<uid>/chart): [min, mean, max] per bucket of iterations, against the
// iteration or the time, zoomed together, with the run's markers drawn on every chart.
import { fetchJson } from "./api.js";
import { element, field, list, table, text } from "./dom.js";

// A field whose text is not the value's own (a time shown in local form).
function fieldShown(tag, name, value, shown, attributes = {}) {
  const node = field(tag, name, value, attributes);
  node.textContent = shown;
  return node;
}

const refreshMs = 15000;
const goodputMs = 60000;  // how long a workload's goodput is reused
const goodputParallel = 4;
const states = ["running", "stalled", "ended", "superseded", "gone"];
const metrics = [
  ["lm_loss", "Loss"], ["tflops", "Throughput per GPU (TFLOPS)"],
  ["tokens_per_gpu", "Tokens/s per GPU"], ["elapsed_time_per_iteration_ms", "Step time (ms)"],
  ["mem_usages", "Memory"], ["learning_rate", "Learning rate"],
];
const markerColours = { checkpoint: "#1f5fbf", stall: "#c62828", anomaly: "#ef8a00",
                        lifecycle: "#2e7d32", other: "#777" };


function timeText(value) {
  if (value === null || value === undefined || value === "") return "–";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

function timeField(name, value) {
  return fieldShown("td", name, value, timeText(value), { title: value ?? "" });
}

const runHash = (uid, serial) => `#/training/${encodeURIComponent(uid)}/${encodeURIComponent(serial)}`;

// At most goodputParallel requests at once; a workload's answer is shared by its runs' rows.
class Goodputs {
  constructor() { this.cache = new Map(); this.waiting = []; this.active = 0; this.stopped = false; }

  of(uid) {
    const cached = this.cache.get(uid);
    if (cached && Date.now() - cached.at < goodputMs) return cached.promise;
    const promise = new Promise((resolve, reject) => { this.waiting.push({ uid, resolve, reject }); });
    this.cache.set(uid, { at: Date.now(), promise });
    this.pump();
    return promise;
  }

  pump() {
    while (!this.stopped && this.active < goodputParallel && this.waiting.length) {
      const { uid, resolve, reject } = this.waiting.shift();
      ++this.active;
      fetchJson(`training/${encodeURIComponent(uid)}/goodput`).then(resolve, reject)
        .finally(() => { --this.active; this.pump(); });
    }
  }

  stop() { this.stopped = true; this.waiting = []; }
}

function goodputCell(goodputs, uid) {
  const cell = element("td", { "data-field": "goodput", "data-value": "", class: "number" }, "…");
  goodputs.of(uid).then((data) => {
    const ratio = data && Number.isFinite(data.ratio) ? data.ratio : null;
    cell.dataset.value = ratio === null ? "" : String(ratio);
    cell.textContent = ratio === null ? "–" : `${(ratio * 100).toFixed(1)} %`;
    cell.dataset.loaded = "true";
  }, (failure) => {
    cell.textContent = "–";
    cell.title = failure.message;
    cell.dataset.loaded = "error";
  });
  return cell;
}

function runRow(run, goodputs) {
  const uid = run.workload_uid ?? "";
  const hash = runHash(uid, run.serial ?? "");
  const row = element("tr", { "data-run": `${uid}/${run.serial ?? ""}`, class: "link" },
    element("td", { "data-field": "workload_name", "data-value": run.workload_name ?? "",
                    title: uid }, element("a", { href: hash }, text(run.workload_name))),
    field("td", "serial", run.serial, { class: "number" }),
    field("td", "state", run.state, { class: `state-${run.state}` }),
    element("td", { class: "number" }, field("span", "last_iteration", run.last_iteration), " / ",
            field("span", "target_iterations", run.target_iterations)),
    timeField("last_iteration_at", run.last_iteration_at),
    timeField("started_at", run.started_at),
    uid ? goodputCell(goodputs, uid) : field("td", "goodput", null));
  row.addEventListener("click", (event) => {
    if (!event.target.closest("a")) location.hash = hash;
  });
  return row;
}

function renderRuns(main) {
  const filter = element("input", { type: "search", id: "runs-q", autocomplete: "off",
                                    placeholder: "workload name contains…", size: "30" });
  const state = element("select", { id: "runs-state" }, element("option", { value: "" }, "any state"),
                        ...states.map((name) => element("option", { value: name }, name)));
  const first = element("button", { type: "button", id: "runs-first", hidden: "" }, "First page");
  const next = element("button", { type: "button", id: "runs-next", hidden: "" }, "Next page");
  const error = element("p", { class: "error", id: "runs-error" });
  const runs = element("div", { id: "runs-table" });
  main.append(element("section", {}, element("h2", {}, "Training runs"),
    element("p", { class: "toolbar" }, filter, state, first, next), error, runs));
  const goodputs = new Goodputs();
  let cursor = null, nextCursor = null, timer = null, typing = null, request = 0;
  let stopped = false;

  async function load() {
    clearTimeout(timer);
    const mine = ++request;
    let path = "training/runs?limit=50";
    if (filter.value.trim()) path += `&q=${encodeURIComponent(filter.value.trim())}`;
    if (state.value) path += `&state=${encodeURIComponent(state.value)}`;
    if (cursor) path += `&cursor=${encodeURIComponent(cursor)}`;
    try {
      const data = await fetchJson(path);
      if (stopped || mine !== request) return;
      error.textContent = "";
      runs.replaceChildren(table(["workload", "run", "state", "iteration / target",
                                  "last progress", "started", "goodput"],
        list(data.runs).map((run) => runRow(run, goodputs)), "No run.", { "data-table": "runs" }));
      nextCursor = data.next_cursor || null;
      next.hidden = !nextCursor;
      first.hidden = !cursor;
      main.dataset.loaded = String(Date.now());
    } catch (failure) {
      if (stopped || mine !== request) return;
      error.textContent = `Cannot read the runs: ${failure.message}`;
    }
    if (!stopped && mine === request) timer = setTimeout(load, refreshMs);
  }

  const restart = () => { cursor = null; load(); };
  filter.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(restart, 300); });
  state.addEventListener("change", restart);
  first.addEventListener("click", restart);
  next.addEventListener("click", () => { if (nextCursor) { cursor = nextCursor; load(); } });
  load();
  return () => { stopped = true; clearTimeout(timer); clearTimeout(typing); goodputs.stop(); };
}

function markerKind(type) {
  if (type === "checkpoint_save" || type === "checkpoint_load") return "checkpoint";
  if (type === "TrainingStalled") return "stall";
  if (["StartTrain", "EndTrain", "TrainingResumed", "ThroughputRecovered"].includes(type)) {
    return "lifecycle";
  }
  if (["NanIterations", "SkippedIterations", "LossSpike", "ThroughputDrop",
       "IterationRewind"].includes(type)) return "anomaly";
  return "other";
}

const markerX = (marker, mode) => {
  const x = mode === "time" ? marker.time_ms : marker.iteration;
  return Number.isFinite(x) ? x : null;
};

// [x, [min, mean, max] | null] in x order, the points with no x left out.
function chartRows(data, key, mode) {
  const series = data.series && data.series[key] ? data.series[key] : {};
  const mean = list(series.mean), low = list(series.min), high = list(series.max);
  const xs = list(mode === "time" ? data.time_ms : data.iteration);
  const rows = [];
  let values = 0;
  for (let i = 0; i < xs.length; ++i) {
    if (!Number.isFinite(xs[i])) continue;
    const m = Number.isFinite(mean[i]) ? mean[i] : null;
    values += m !== null;
    rows.push([xs[i], m === null ? null : [Number.isFinite(low[i]) ? low[i] : m, m,
                                             Number.isFinite(high[i]) ? high[i] : m]]);
  }
  rows.sort((a, b) => a[0] - b[0]);
  if (mode === "time") for (const row of rows) row[0] = new Date(row[0]);
  return values ? rows : [];
}

function markerTable(markers) {
  return table(["type", "iteration", "time", "detail"], markers.map((marker, index) =>
    element("tr", { "data-marker": index, "data-type": marker.type ?? "" },
      element("td", { "data-field": "type", "data-value": marker.type ?? "" },
              element("span", { class: `swatch marker-${markerKind(marker.type)}` }),
              text(marker.type)),
      field("td", "iteration", marker.iteration, { class: "number" }),
      timeField("time_ms", marker.time_ms),
      element("td", { "data-field": "detail" },
              element("code", {}, marker.detail == null ? "" : JSON.stringify(marker.detail))))),
  "No marker.", { "data-table": "markers" });
}

function renderRun(main, uid, serial) {
  const header = element("section", { id: "run-header" }, element("h2", {}, "Run"));
  const error = element("p", { class: "error", id: "run-error" });
  const axis = (value, label) => element("label", {}, element("input", {
    type: "radio", name: "x-axis", value, id: `x-${value}`,
    checked: value === "iteration" ? "" : null,
  }), ` ${label}`);
  const reload = element("button", { type: "button", id: "run-reload" }, "Reload");
  const chartsBox = element("div", { class: "grid", id: "run-charts" });
  const markersBox = element("div", { id: "run-markers" });
  main.append(element("p", {}, element("a", { href: "#/training" }, "← all runs")), header, error,
    element("p", { class: "toolbar" }, "x axis:", axis("iteration", "iteration"),
            axis("time", "time"), reload),
    chartsBox, element("section", {}, element("h2", {}, "Markers"), markersBox));
  let charts = [], markers = [], data = null, mode = "iteration", stopped = false, syncing = false;
  window.tpConsole = { charts: () => charts.slice(), markers: () => markers.length };

  function sync(me) {
    if (syncing) return;
    syncing = true;
    const range = me.isZoomed("x") ? me.xAxisRange() : null;
    for (const other of charts) {
      if (other === me) continue;
      const current = other.getOption("dateWindow");
      const same = range === null ? !current
        : current && current[0] === range[0] && current[1] === range[1];
      if (!same) other.updateOptions({ dateWindow: range });
    }
    syncing = false;
  }

  function underlay(context, area, chart) {
    context.save();
    context.lineWidth = 1;
    context.globalAlpha = 0.7;
    for (const marker of markers) {
      const x = markerX(marker, mode);
      if (x === null) continue;
      const dx = chart.toDomXCoord(x);
      if (!(dx >= area.x && dx <= area.x + area.w)) continue;
      context.strokeStyle = markerColours[markerKind(marker.type)];
      context.beginPath();
      context.moveTo(dx, area.y);
      context.lineTo(dx, area.y + area.h);
      context.stroke();
    }
    context.restore();
  }

  function drawCharts() {
    for (const chart of charts) chart.destroy();
    charts = [];
    chartsBox.replaceChildren();
    for (const [key, title] of metrics) {
      const rows = chartRows(data, key, mode);
      const box = element("div", { class: "chart", "data-chart": key, "data-points": rows.length });
      const legend = element("div", { class: "legend" });
      chartsBox.append(element("section", {}, element("h2", {}, title), box, legend));
      if (!rows.length) {
        box.classList.add("empty");
        box.append(element("p", { class: "muted" }, "no values"));
        continue;
      }
      const chart = new Dygraph(box, rows, {
        labels: [mode, key], customBars: true, legend: "always", labelsDiv: legend,
        labelsSeparateLines: false,
        xlabel: mode, drawCallback: (g, initial) => { if (!initial) sync(g); },
        zoomCallback() { sync(this); }, underlayCallback: underlay,
      });
      charts.push(chart);
    }
  }

  function showHeader() {
    header.replaceChildren(element("h2", {}, "Run ", field("span", "run", data.run ?? serial),
      " of ", field("span", "workload_name", data.workload_name)),
    element("p", {}, "state ", field("span", "state", data.state), "; ",
            field("span", "rows_read", data.rows_read), " rows read, ",
            field("span", "bucket_iterations", data.bucket_iterations),
            " iteration(s) per point; workload uid ",
            field("span", "workload_uid", data.workload_uid ?? uid)));
  }

  async function load() {
    try {
      const answer = await fetchJson(`ui/api/training/${encodeURIComponent(uid)}/chart?run=${
        encodeURIComponent(serial)}&points=800`);
      if (stopped) return;
      error.textContent = "";
      data = answer && typeof answer === "object" ? answer : {};
      markers = list(data.markers);
      showHeader();
      drawCharts();
      markersBox.replaceChildren(markerTable(markers), data.markers_truncated
        ? element("p", { class: "muted", "data-field": "markers_truncated" },
                  "more markers than shown")
        : "");
      main.dataset.loaded = String(Date.now());
    } catch (failure) {
      if (!stopped) error.textContent = `Cannot read the run: ${failure.message}`;
    }
  }

  for (const input of main.querySelectorAll('input[name="x-axis"]')) {
    input.addEventListener("change", () => {
      if (!input.checked || input.value === mode) return;
      mode = input.value;
      if (data) drawCharts();
    });
  }
  reload.addEventListener("click", load);
  load();
  return () => {
    stopped = true;
    for (const chart of charts) chart.destroy();
    charts = [];
  };
}

export function renderTraining(main, params = []) {
  if (params.length >= 2 && params[0] && params[1]) return renderRun(main, params[0], params[1]);
  return renderRuns(main);
}
