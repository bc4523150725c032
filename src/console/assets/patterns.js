// Patterns: every training log pattern the processor tries (configured, from the database, and the
// built-in formats) from GET /ui/api/patterns, filtered here, with the database rows it refused;
// and a box that tries one line against them all (POST /v1/debug/test-log-match).
import { fetchJson } from "./api.js";
import { element, field, isObject, list, table, text } from "./dom.js";

const regexShown = 120;
const columns = ["origin", "id", "name", "type", "framework", "priority", "source", "shadow",
                 "hits", "regex"];


function regexCell(regex) {
  const full = typeof regex === "string" ? regex : "";
  const shown = full.length > regexShown ? full.slice(0, regexShown) + "…" : full;
  return element("td", { "data-field": "regex", "data-value": full },
                 full ? element("code", { title: full }, shown)
                      : element("span", { class: "muted" }, "(a parser)"));
}

function patternRow(pattern) {
  const row = element("tr", { "data-pattern": `${pattern.origin ?? ""}:${pattern.name ?? ""}` },
    ...columns.slice(0, -1).map((name) => field("td", name, pattern[name],
      name === "id" || name === "hits" || name === "priority" ? { class: "number" } : {})),
    regexCell(pattern.regex));
  row.dataset.search = [pattern.origin, pattern.name, pattern.type, pattern.framework,
                        pattern.source, pattern.regex].filter(Boolean).join("\n").toLowerCase();
  return row;
}

function formatLoaded(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  const date = new Date(typeof seconds === "number" ? seconds * 1000 : seconds);
  return Number.isNaN(date.getTime()) ? String(seconds) : date.toLocaleString();
}

function groupsTable(groups, name) {
  const rows = isObject(groups) ? Object.entries(groups).map(([group, value]) => element("tr",
    { "data-group": group }, element("td", {}, group), field("td", "group_value", value))) : [];
  return table(["group", "value"], rows, "no group", { "data-table": name });
}

function fieldsTable(object, name) {
  const rows = isObject(object) ? Object.entries(object).map(([key, value]) => element("tr",
    { "data-key": key }, element("td", {}, key), field("td", `${name}.${key}`, value))) : [];
  return table(["field", "value"], rows, "none", { "data-table": name });
}

function matchItem(match, index) {
  return element("li", { "data-match": index, "data-wins": String(Boolean(match.wins)),
                         class: match.wins ? "wins" : "" },
    field("strong", "name", match.name), " ",
    element("span", { class: "muted" }, "source "), field("span", "source", match.source),
    element("span", { class: "muted" }, ", type "), field("span", "type", match.type),
    match.pattern_id !== undefined ? element("span", { class: "muted" }, ", id ") : "",
    match.pattern_id !== undefined ? field("span", "pattern_id", match.pattern_id) : "",
    match.shadow ? element("span", { class: "muted", "data-field": "shadow" }, ", shadow") : "",
    match.wins ? element("span", { class: "ready" }, " — wins") : "",
    match.pattern ? element("div", {}, element("code", { title: match.pattern },
      match.pattern.length > regexShown ? match.pattern.slice(0, regexShown) + "…"
                                        : match.pattern)) : "",
    groupsTable(match.groups, `match_groups_${index}`));
}

function testAnswer(data) {
  const matches = list(data.matches);
  const winner = matches.find((match) => match.wins) || null;
  const winnerName = winner ? winner.name : data.matched ? data.name : null;
  const facts = [
    ["matched", field("td", "matched", data.matched)],
    ["winner", field("td", "winner", winnerName)],
    ["type", field("td", "type", data.type ?? (winner ? winner.type : undefined))],
    ["source", field("td", "source", data.source)],
    ["framework", field("td", "framework", data.framework)],
    ["pattern id", field("td", "pattern_id", data.pattern_id)],
    ["groups", field("td", "groups_count", data.groups_count)],
    ["error", field("td", "error", data.error)],
    ["line length", field("td", "log_length", data.log_length)],
    ["cleaned line", element("td", { "data-field": "cleaned_log",
                                     "data-value": data.cleaned_log ?? "" },
                             element("code", {}, data.cleaned_log ?? ""))],
  ];
  const parts = [table(["", ""], facts.map(([label, cell]) => element("tr", {},
    element("th", {}, label), cell)), "", { class: "facts" })];
  if (data.pattern) {
    parts.push(element("p", {}, "pattern: ", element("code", { "data-field": "pattern" },
                                                      data.pattern)));
  }
  if (data.groups !== undefined) parts.push(element("h2", {}, "Groups"),
                                            groupsTable(data.groups, "groups"));
  if (data.performance !== undefined) {
    parts.push(element("h2", {}, "Performance fields"),
               fieldsTable(data.performance, "performance"));
  }
  if (data.lifecycle !== undefined) {
    parts.push(element("h2", {}, "Lifecycle fields"), fieldsTable(data.lifecycle, "lifecycle"));
  }
  parts.push(element("h2", {}, `Every match, in the order tried (${matches.length})`),
             matches.length ? element("ol", { id: "pattern-matches" }, ...matches.map(matchItem))
                            : element("p", { class: "muted" }, "No pattern matched."),
             element("details", {}, element("summary", {}, "Raw JSON"),
                     element("pre", { "data-field": "raw" }, JSON.stringify(data, null, 2))));
  return parts;
}

export function renderPatterns(main) {
  const filter = element("input", { type: "search", id: "pattern-filter", autocomplete: "off",
                                    placeholder: "filter: name, type, framework, regex…",
                                    size: "40" });
  const reload = element("button", { type: "button", id: "pattern-reload" }, "Reload");
  const loaded = element("span", { class: "muted", id: "patterns-loaded" });
  const shown = element("span", { class: "muted", id: "patterns-shown" });
  const error = element("p", { class: "error", id: "patterns-error" });
  const patterns = element("div", { id: "patterns-table" });
  const invalid = element("div", { id: "patterns-invalid" });
  const line = element("textarea", { id: "test-line", rows: "3", class: "wide",
                                     spellcheck: "false", placeholder: "a training log line" });
  const test = element("button", { type: "submit", id: "test-button" }, "Test");
  const testForm = element("form", { id: "test-form" }, line,
                           element("p", { class: "toolbar" }, test));
  const testError = element("p", { class: "error", id: "test-error" });
  const testResult = element("div", { id: "test-result" });
  main.append(
    element("section", {}, element("h2", {}, "Log patterns"),
            element("p", { class: "toolbar" }, filter, reload, shown, loaded), error, patterns),
    element("section", {}, element("h2", {}, "Refused database rows"), invalid),
    element("section", {}, element("h2", {}, "Test a line"), testForm, testError, testResult));
  let stopped = false;

  function applyFilter() {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const rows = patterns.querySelectorAll("tr[data-pattern]");
    let visible = 0;
    for (const row of rows) {
      const show = words.every((word) => row.dataset.search.includes(word));
      row.hidden = !show;
      visible += show;
    }
    shown.textContent = `${visible} of ${rows.length} shown`;
    shown.dataset.value = String(visible);
  }

  async function load() {
    try {
      const data = await fetchJson("ui/api/patterns");
      if (stopped) return;
      error.textContent = "";
      loaded.replaceChildren("; database read: ",
        element("span", { "data-field": "last_loaded_at", "data-value": data.last_loaded_at ?? "" },
                formatLoaded(data.last_loaded_at)));
      patterns.replaceChildren(table(columns, list(data.patterns).map(patternRow),
                                     "No pattern.", { "data-table": "patterns" }));
      invalid.replaceChildren(table(["id", "name", "error"], list(data.invalid).map((row) =>
        element("tr", { "data-invalid": row.id ?? "" }, field("td", "id", row.id),
                field("td", "name", row.name), field("td", "error", row.error, { class: "error" }))),
      "None.", { "data-table": "invalid" }));
      applyFilter();
      main.dataset.loaded = String(Date.now());
    } catch (failure) {
      if (!stopped) error.textContent = `Cannot read the patterns: ${failure.message}`;
    }
  }

  async function testLine() {
    const log = line.value.replace(/[\r\n]+$/, "");  // a pasted line's end is not part of it
    if (!log) return;
    test.disabled = true;
    try {
      const data = await fetchJson("debug/test-log-match", {
        method: "POST", body: JSON.stringify({ log }),
        headers: { "Content-Type": "application/json" },
      });
      if (stopped) return;
      testError.textContent = "";
      testResult.replaceChildren(...testAnswer(isObject(data) ? data : {}));
      testResult.dataset.loaded = String(Date.now());
    } catch (failure) {
      if (stopped) return;
      testResult.replaceChildren();
      testError.textContent = failure.message;
    } finally {
      test.disabled = false;
    }
  }

  filter.addEventListener("input", applyFilter);
  reload.addEventListener("click", load);
  testForm.addEventListener("submit", (event) => { event.preventDefault(); testLine(); });
  load();
  return () => { stopped = true; };
}
