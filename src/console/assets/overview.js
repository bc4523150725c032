// Overview: what flows through the processor per second over the last 15 minutes, what waits in
// the queues, the cluster-state cache and readiness. Refreshes itself every 5 seconds from
// GET /ui/api/overview; every figure carries its raw value in data-value for checks.
import { fetchJson } from "./api.js";
import { element, table } from "./dom.js";

const refreshMs = 5000;
const chartGroups = [
  { group: "metrics", title: "Metrics per second (samples; refused: requests)" },
  { group: "logs", title: "Logs: records and lines per second" },
  { group: "endpoints", title: "Storage endpoints: samples per second" },
  { group: "training", title: "Training rows per second" },
];

function formatNumber(value) {
  if (value === null || value === undefined) return "–";
  if (Math.abs(value) >= 1e6) return (value / 1e6).toFixed(2) + " M";
  if (Math.abs(value) >= 1e4) return (value / 1e3).toFixed(1) + " k";
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

function formatBytes(value) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; ++unit; }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function numberCell(value, format = formatNumber, attributes = {}) {
  return element("td", { class: "number", "data-value": value ?? "", ...attributes },
                 format(value));
}

function flowLabel(flow) {
  return flow.kind === "received" || flow.kind === "forwarded" || flow.kind === "sent" ||
      flow.kind === "written" ? `${flow.kind} ${flow.name}` : `${flow.kind}: ${flow.name}`;
}

// The last point that holds a value.
function lastRate(flow) {
  for (let i = flow.per_second.length - 1; i >= 0; --i) {
    if (flow.per_second[i] !== null) return flow.per_second[i];
  }
  return null;
}

class Charts {
  constructor() { this.byGroup = new Map(); }

  draw(container, rates) {
    const points = rates.flows.length ? rates.flows[0].per_second.length : 0;
    const times = [];
    for (let i = 0; i < points; ++i) {
      times.push(new Date((rates.end - (points - 1 - i) * rates.step_seconds) * 1000));
    }
    for (const { group, title } of chartGroups) {
      // Flows that stayed at zero over the window would only crowd the legend; the table lists them.
      const flows = rates.flows.filter((flow) => flow.group === group &&
                                       flow.per_second.some((rate) => rate !== null && rate !== 0));
      let entry = this.byGroup.get(group);
      if (!entry) {
        const box = element("div", { class: "chart", "data-chart": group });
        const legend = element("div", { class: "legend" });
        container.append(element("section", {}, element("h2", {}, title), box, legend));
        entry = { box, legend, chart: null, labels: "" };
        this.byGroup.set(group, entry);
      }
      if (!flows.length) {
        if (entry.chart) entry.chart.destroy();
        entry.chart = null;
        entry.labels = "";
        entry.legend.replaceChildren();
        entry.box.replaceChildren(element("p", { class: "muted" }, "Nothing counted in the window."));
        continue;
      }
      const labels = ["time", ...flows.map(flowLabel)];
      const data = times.map((time, i) => [time, ...flows.map((flow) => flow.per_second[i])]);
      if (entry.chart && entry.labels === labels.join("\n")) {
        entry.chart.updateOptions({ file: data });
      } else {
        if (entry.chart) entry.chart.destroy();
        entry.box.replaceChildren();
        entry.chart = new Dygraph(entry.box, data, {
          labels, connectSeparatedPoints: false, legend: "always", labelsDiv: entry.legend,
          labelsSeparateLines: false, ylabel: "per second", includeZero: true,
        });
        entry.labels = labels.join("\n");
      }
    }
  }

  all() { return [...this.byGroup.values()].map((entry) => entry.chart).filter(Boolean); }
  destroy() { for (const chart of this.all()) chart.destroy(); }
}

function readinessSection(data) {
  const text = data.ready ? element("span", { class: "ready", "data-field": "ready" }, "ready")
    : element("span", { class: "not-ready", "data-field": "ready" },
              "not ready: " + data.not_ready_reasons.join("; "));
  return element("section", { id: "readiness" }, element("h2", {}, "Readiness"), text);
}

function ratesTable(rates) {
  const rows = rates.flows.map((flow) => element("tr", {},
    element("td", {}, flow.group), element("td", {}, flow.kind), element("td", {}, flow.name),
    numberCell(lastRate(flow), formatNumber,
               { "data-flow": `${flow.group}/${flow.kind}/${flow.name}` })));
  return element("section", { id: "rates" },
    element("h2", {}, `Per second, last ${rates.step_seconds} s`),
    table(["group", "flow", "name", "per second"], rows, "Nothing counted yet."));
}

function queuesSection(data) {
  const rows = data.queues.map((queue) => element("tr", { "data-endpoint": queue.endpoint },
    element("td", {}, queue.endpoint),
    numberCell(queue.bytes, formatBytes, { "data-field": "bytes" }),
    numberCell(queue.pending_batches, formatNumber, { "data-field": "pending_batches" }),
    numberCell(queue.oldest_age_seconds,
               (age) => (age === null || age === undefined ? "–"
                 : `${age} s${queue.oldest_estimated ? " (at least)" : ""}`),
               { "data-field": "oldest_age_seconds" })));
  const writer = data.training_writer;
  const rejected = Object.entries(writer.rejected_rows).map(([name, rows]) => element("tr", {},
    element("td", {}, `rejected rows: ${name}`),
    numberCell(rows, formatNumber, { "data-field": `rejected.${name}` })));
  return element("section", { id: "queues" },
    element("h2", {}, "Disk queues per storage endpoint"),
    table(["endpoint", "bytes on disk", "batches waiting", "oldest waiting"], rows,
          "No storage endpoint configured."),
    element("h2", {}, "Training writer"),
    table(["", ""], [
      element("tr", {}, element("td", {}, "rows waiting for the database"),
              numberCell(writer.pending_rows, formatNumber, { "data-field": "pending_rows" })),
      element("tr", {}, element("td", {}, "buffer (training.bufferRows)"),
              numberCell(writer.buffer_rows, formatNumber, { "data-field": "buffer_rows" })),
      ...rejected,
    ], ""));
}

function cacheSection(cache) {
  const fields = [
    ["source", cache.source, String], ["generation", cache.generation, String],
    ["age_seconds", cache.age_seconds, (v) => `${v} s`],
    ["last_refresh_age_seconds", cache.last_refresh_age_seconds,
     (v) => (v === undefined ? "never" : `${v} s ago`)],
    ["refresh_failures", cache.refresh_failures, formatNumber],
    ["nodes", cache.nodes, formatNumber], ["devices", cache.devices, formatNumber],
    ["pods", cache.pods, formatNumber], ["pod_uids", cache.pod_uids, formatNumber],
    ["workloads", cache.workloads, formatNumber],
  ];
  const rows = fields.map(([name, value, format]) => element("tr", {},
    element("td", {}, name.replaceAll("_", " ")),
    numberCell(value, format, { "data-field": name })));
  return element("section", { id: "cache" }, element("h2", {}, "Cluster-state cache"),
                 table(["", ""], rows, ""));
}

export function renderOverview(main) {
  const summary = element("div", { class: "grid" });
  const charts = element("div", { class: "grid" });
  const rates = element("div");
  const error = element("p", { class: "error", id: "overview-error" });
  main.append(error, summary, charts, rates);
  const drawn = new Charts();
  window.tpConsole = { charts: () => drawn.all() };
  let timer = null;
  let stopped = false;

  async function refresh() {
    try {
      const data = await fetchJson("ui/api/overview?window=900&step=5");
      if (stopped) return;
      error.textContent = "";
      summary.replaceChildren(readinessSection(data), cacheSection(data.cache),
                              queuesSection(data));
      rates.replaceChildren(ratesTable(data.rates));
      drawn.draw(charts, data.rates);
      const status = document.getElementById("status");
      status.textContent = data.ready ? "ready" : "not ready";
      status.className = "status " + (data.ready ? "ready" : "not-ready");
      main.dataset.loaded = String(data.now);
    } catch (failure) {
      error.textContent = `Cannot read the overview: ${failure.message}`;
    }
    if (!stopped) timer = setTimeout(refresh, refreshMs);
  }
  refresh();
  return () => { stopped = true; clearTimeout(timer); drawn.destroy(); };
}
