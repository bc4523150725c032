// Explain: what the processor does with one series (Prometheus text form, or JSON labels with
// samples) or one Fluent Bit record, from POST /v1/explain (docs/OPERATIONS.md). Nothing is
// forwarded or journaled; the answer is shown field by field, each with data-field, and raw.
import { fetchJson } from "./api.js";
import { element, field, isObject, list, table, text } from "./dom.js";

const storageKey = "telemetry-processor-explain";
const placeholder = 'gpu_utilization{gpu_id="3",primus_lens_node_name="demo-node-0"} 97.5\n' +
  'or JSON: {"labels":{...},"samples":[...]} or {"record":{"log":"...","kubernetes":{...}}}';


// Rows of [label, field name, value]; a value that is undefined (absent) gives no row.
function facts(rows) {
  const shown = rows.filter(([, , value]) => value !== undefined);
  return element("table", { class: "facts" }, element("tbody", {}, ...shown.map(
    ([label, name, value]) => element("tr", {}, element("th", {}, label),
      value instanceof Node ? element("td", {}, value) : field("td", name, value)))));
}

function labelsText(labels) {
  if (!isObject(labels)) return "";
  return Object.entries(labels).map(([name, value]) => `${name}="${value}"`).join(", ");
}

function samplesText(samples) {
  return list(samples).map((sample) => {
    const time = Number.isFinite(sample.timestamp) ? new Date(sample.timestamp).toISOString() : "";
    return `${sample.value ?? ""} @ ${sample.timestamp ?? ""}${time ? ` (${time})` : ""}`;
  }).join("\n");
}

function seriesTable(series, empty, name = "series") {
  const rows = list(series).map((one, index) => element("tr", { "data-series": index },
    element("td", { "data-field": "labels", "data-value": JSON.stringify(one.labels ?? {}) },
            element("code", {}, labelsText(one.labels))),
    element("td", { "data-field": "samples", class: "pre" }, samplesText(one.samples))));
  return table(["labels", "samples"], rows, empty, { "data-table": name });
}

function objectTable(object, name) {
  const rows = isObject(object) ? Object.entries(object).map(([key, value]) => element("tr",
    { "data-key": key }, element("td", {}, key), field("td", `${name}.${key}`, value))) : [];
  return table(["field", "value"], rows, "none", { "data-table": name });
}

function section(title, ...children) {
  return element("section", {}, element("h2", {}, title), ...children);
}

function cacheText(cache) {
  if (!isObject(cache)) return undefined;
  return `generation ${text(cache.generation)}, read ${text(cache.age_seconds)} s ago ` +
    `from ${text(cache.source)}`;
}

function explainSeries(data) {
  const pod = isObject(data.pod) ? data.pod : null;
  const workloads = list(data.workloads).map((workload) => element("tr", {},
    field("td", "workload_name", workload.name), field("td", "workload_uid", workload.uid)));
  const forwarded = list(data.forwarded);
  return [
    section("Decision", facts([
      ["outcome", "outcome", data.outcome], ["drop reason", "drop_reason", data.drop_reason],
      ["refused", "error", data.error], ["reason", "reason", data.reason],
      ["rule", "rule", data.rule], ["rule detail", "rule_detail", data.rule_detail],
      ["device label", "device_label", data.device_label], ["device", "device", data.device],
      ["pod", "pod_name", pod ? pod.name : null], ["pod uid", "pod_uid", pod ? pod.uid : null],
      ["workloads found by", "workloads_by", data.workloads_by],
      ["cache", "cache", cacheText(data.cache)],
    ])),
    section("Workloads", table(["workload", "uid"], workloads, "none",
                               { "data-table": "workloads" })),
    section("Input", seriesTable(isObject(data.input) ? [data.input] : [], "none", "input")),
    section("Forwarded series", element("p", {}, field("span", "forwarded_count",
                                                       forwarded.length), " series"),
            seriesTable(forwarded, "nothing forwarded", "forwarded")),
  ];
}

function nearestTable(formats) {
  const rows = list(formats).map((format, index) => element("tr", { "data-nearest": index },
    field("td", "nearest_format", format.format), field("td", "origin", format.origin),
    field("td", "parts_found", format.parts_found), field("td", "parts", format.parts),
    field("td", "missing", format.missing), field("td", "looked_for_at", format.looked_for_at)));
  return table(["format", "origin", "parts found", "of", "missing", "looked for at"], rows,
               "no format has any part of this line", { "data-table": "nearest_formats" });
}

function rowsTable(rows) {
  return table(["workload uid", "nearest workload uid", "pod uid", "time", "iteration",
                "series labels"], list(rows).map((row, index) => element("tr", { "data-row": index },
    field("td", "workload_uid", row.workload_uid),
    field("td", "nearest_workload_uid", row.nearest_workload_uid),
    field("td", "pod_uid", row.pod_uid), field("td", "time_us", row.time_us),
    field("td", "iteration", row.iteration),
    element("td", {}, element("code", {}, labelsText(row.series_labels)))),
  ), "no row", { "data-table": "rows" });
}

function eventsTable(events) {
  return table(["type", "iteration", "path", "duration ms", "workload uid", "time"],
    list(events).map((event, index) => element("tr", { "data-event": index },
      field("td", "type", event.type), field("td", "iteration", event.iteration),
      field("td", "path", event.path), field("td", "duration_ms", event.duration_ms),
      field("td", "workload_uid", event.workload_uid), field("td", "time_us", event.time_us))),
    "no event", { "data-table": "events" });
}

function explainRecord(data) {
  const pod = isObject(data.pod) ? data.pod : {};
  const parts = [section("Analysis", facts([
    ["analysed", "analysed", data.analysed],
    ["skipped by the parser", "skipped", data.skipped],
    ["why not analysed", "not_analysed_reason", data.not_analysed_reason],
    ["line kind", "line_kind", data.line_kind], ["format", "format", data.format],
    ["near miss", "near_miss", data.near_miss],
    ["formats tried", "formats", Array.isArray(data.formats) ? data.formats.join(", ") : undefined],
    ["not attributed", "not_attributed", data.not_attributed],
    ["message", "message", data.message], ["node", "node_label", data.node_label],
    ["pod", "pod_name", data.pod === undefined ? undefined : pod.name],
    ["pod uid", "pod_uid", data.pod === undefined ? undefined : pod.uid],
    ["namespace", "namespace", data.pod === undefined ? undefined : pod.namespace],
    ["cache", "cache", cacheText(data.cache)],
  ]))];
  if (data.fields !== undefined) parts.push(section("Fields", objectTable(data.fields, "fields")));
  if (data.nearest_formats !== undefined) {
    parts.push(section("Nearest formats", nearestTable(data.nearest_formats)));
  }
  if (data.rows !== undefined) parts.push(section("Rows", rowsTable(data.rows)));
  if (data.events !== undefined) parts.push(section("Events", eventsTable(data.events)));
  if (data.series !== undefined || data.series_off !== undefined ||
      data.series_error !== undefined) {
    parts.push(section("Training series",
      data.series_off ? field("p", "series_off", data.series_off, { class: "muted" }) : "",
      data.series_error ? field("p", "series_error", data.series_error, { class: "error" }) : "",
      data.series_note ? field("p", "series_note", data.series_note, { class: "muted" }) : "",
      data.series !== undefined ? seriesTable(data.series, "no series", "series") : ""));
  }
  return parts;
}

// The body as POST /v1/explain takes it: JSON as given, else a series in text form.
function requestBody(input) {
  return input.startsWith("{") ? input : JSON.stringify({ series: input });
}

export function renderExplain(main) {
  const textarea = element("textarea", { id: "explain-input", rows: "6", spellcheck: "false",
                                         placeholder, class: "wide" });
  textarea.value = sessionStorage.getItem(storageKey) || "";
  const button = element("button", { type: "submit", id: "explain-button" }, "Explain");
  const form = element("form", { id: "explain-form" }, textarea,
                       element("p", { class: "toolbar" }, button,
                               element("span", { class: "muted" }, "Ctrl+Enter")));
  const error = element("p", { class: "error", id: "explain-error" });
  const answer = element("div", { id: "explain-answer" });
  main.append(section("Explain a series or a log record", form, error), answer);
  let stopped = false;
  let request = 0;

  async function explain() {
    const input = textarea.value.trim();
    sessionStorage.setItem(storageKey, textarea.value);
    if (!input) return;
    const mine = ++request;
    button.disabled = true;
    try {
      const data = await fetchJson("explain", {
        method: "POST", body: requestBody(input), headers: { "Content-Type": "application/json" },
      });
      if (stopped || mine !== request) return;
      error.textContent = "";
      const result = isObject(data) ? data : {};
      const parts = result.kind === "record" ? explainRecord(result) : explainSeries(result);
      answer.replaceChildren(
        element("p", {}, "kind: ", field("span", "kind", result.kind)), ...parts,
        element("details", { id: "explain-raw" }, element("summary", {}, "Raw JSON"),
                element("pre", { "data-field": "raw" }, JSON.stringify(data, null, 2))));
      main.dataset.loaded = String(Date.now());
    } catch (failure) {
      if (stopped || mine !== request) return;
      answer.replaceChildren();
      error.textContent = failure.message;
      main.dataset.loaded = String(Date.now());
    } finally {
      if (mine === request) button.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); explain(); });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      explain();
    }
  });
  return () => { stopped = true; };
}
