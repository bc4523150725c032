// Caches: what the cluster-state cache knows of a node, a pod (by name or UID) or a workload,
// searched by prefix a page at a time from GET /ui/api/cache/search. The search lives in the
// fragment (#/caches/<by>/<q>) so that a reload shows it again; every value carries data-field
// and data-value for checks.
import { fetchJson } from "./api.js";
import { element, field, list, table } from "./dom.js";

const kinds = [
  ["node", "node"], ["pod", "pod"], ["pod_uid", "pod UID"], ["workload", "workload"],
];

const ref = (value) => (value && typeof value === "object" ? value : {});

function truncatedNote(truncated, what) {
  return truncated ? element("p", { class: "muted", "data-field": "truncated" },
                             `more ${what} than shown`) : "";
}

function nodeRows(results) {
  return results.map((result) => {
    const devices = list(result.devices).map((device) => element("tr", {
      "data-device": `${device.label ?? ""}=${device.device ?? ""}`,
    }, field("td", "label", device.label), field("td", "device", device.device),
    field("td", "pod_name", ref(device.pod).name), field("td", "pod_uid", ref(device.pod).uid)));
    return element("tr", { "data-result": result.node ?? "" },
      field("td", "node", result.node),
      element("td", {}, table(["device label", "device", "pod", "pod uid"], devices,
                              "no device of a running pod", { class: "inner" }),
              truncatedNote(result.devices_truncated, "devices")));
  });
}

function podRows(results, by) {
  return results.map((result) => {
    const pod = ref(result.pod);
    const devices = list(result.devices).map((device) => element("tr", {
      "data-device": `${device.node ?? ""}/${device.label ?? ""}=${device.device ?? ""}`,
    }, field("td", "node", device.node), field("td", "label", device.label),
    field("td", "device", device.device)));
    const workloads = list(result.workloads).map((workload) => element("tr", {
      "data-workload": workload.uid ?? "",
    }, field("td", "workload_name", workload.name), field("td", "workload_uid", workload.uid)));
    const nearest = result.nearest_workload ? ref(result.nearest_workload) : null;
    return element("tr", { "data-result": (by === "pod_uid" ? pod.uid : pod.name) ?? "" },
      field("td", "pod_name", pod.name), field("td", "pod_uid", pod.uid),
      element("td", {}, table(["node", "label", "device"], devices, "none", { class: "inner" })),
      element("td", {}, table(["workload", "uid"], workloads, "none", { class: "inner" })),
      element("td", {}, nearest
        ? element("div", {}, field("span", "nearest_workload_name", nearest.name), " ",
                  element("span", { class: "muted" }, "("),
                  field("span", "nearest_workload_uid", nearest.uid),
                  element("span", { class: "muted" }, ")"))
        : element("span", { class: "muted", "data-field": "nearest_workload_name",
                            "data-value": "" }, "none")));
  });
}

function workloadRows(results) {
  return results.map((result) => {
    const workload = ref(result.workload);
    const pods = list(result.pods).map((pod) => element("tr", { "data-pod": pod.uid ?? "" },
      field("td", "pod_name", pod.name), field("td", "pod_uid", pod.uid)));
    return element("tr", { "data-result": workload.name ?? "" },
      field("td", "workload_name", workload.name), field("td", "workload_uid", workload.uid),
      element("td", {}, table(["pod", "uid"], pods, "no pod", { class: "inner" }),
              truncatedNote(result.pods_truncated, "pods")));
  });
}

function resultsTable(data) {
  const results = list(data.results);
  const by = data.by;
  const attributes = { "data-results": by ?? "", class: "results" };
  if (by === "node") {
    return table(["node", "devices"], nodeRows(results), "Nothing found.", attributes);
  }
  if (by === "workload") {
    return table(["workload", "uid", "pods"], workloadRows(results), "Nothing found.",
                 attributes);
  }
  return table(["pod", "uid", "devices", "workloads", "nearest workload"],
               podRows(results, by), "Nothing found.", attributes);
}

export function renderCaches(main, params = []) {
  const by = kinds.some(([value]) => value === params[0]) ? params[0] : "pod";
  const q = params.length > 1 ? params.slice(1).join("/") : "";
  const select = element("select", { id: "cache-by", name: "by" },
    ...kinds.map(([value, label]) => element("option", { value }, label)));
  select.value = by;
  const input = element("input", { id: "cache-q", name: "q", type: "text", value: q,
                                    placeholder: "prefix (empty: from the start)",
                                    autocomplete: "off", size: "40" });
  const button = element("button", { type: "submit", id: "cache-search" }, "Search");
  const form = element("form", { class: "toolbar", id: "cache-form" },
                       element("label", {}, "Search by ", select), input, button);
  const error = element("p", { class: "error", id: "cache-error" });
  const meta = element("p", { class: "muted", id: "cache-meta" });
  const results = element("div", { id: "cache-results" });
  const next = element("button", { type: "button", id: "cache-next", hidden: "" }, "Next page");
  const first = element("button", { type: "button", id: "cache-first", hidden: "" },
                        "First page");
  main.append(element("section", {}, element("h2", {}, "Cluster-state cache"), form, error),
              element("section", {}, meta, results, element("p", { class: "toolbar" }, first,
                                                           next)));
  let stopped = false;
  let request = 0;
  let nextCursor = null;

  async function search(cursor) {
    const mine = ++request;
    const query = [`by=${encodeURIComponent(by)}`, `q=${encodeURIComponent(q)}`];
    if (cursor) query.push(`cursor=${encodeURIComponent(cursor)}`);
    try {
      const data = await fetchJson(`ui/api/cache/search?${query.join("&")}`);
      if (stopped || mine !== request) return;
      error.textContent = "";
      meta.replaceChildren("generation ", field("span", "generation", data.generation),
        ", data read ", field("span", "age_seconds", data.age_seconds), " s ago; ",
        field("span", "result_count", list(data.results).length), " result(s)",
        cursor ? " (a later page)" : "");
      results.replaceChildren(resultsTable(data));
      nextCursor = data.next_cursor || null;
      next.hidden = !nextCursor;
      first.hidden = !cursor;
      main.dataset.loaded = String(Date.now());
    } catch (failure) {
      if (stopped || mine !== request) return;
      error.textContent = `Cannot search the cache: ${failure.message}`;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const hash = `#/caches/${encodeURIComponent(select.value)}/${encodeURIComponent(input.value)}`;
    if (location.hash === hash) search(null);  // the same search: no hashchange to re-render
    else location.hash = hash;
  });
  next.addEventListener("click", () => { if (nextCursor) search(nextCursor); });
  first.addEventListener("click", () => search(null));
  search(null);
  return () => { stopped = true; };
}
