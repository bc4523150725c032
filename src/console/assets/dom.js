// Building the pages' elements: every value is set as text, never parsed as HTML, so that what
// the API returns cannot inject markup. Each figure carries data-field and its raw value in
// data-value, for the browser test to compare with the API.

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

export const list = (value) => (Array.isArray(value) ? value : []);
export const isObject = (value) =>
  value !== null && typeof value === "object" && !Array.isArray(value);

// A value as shown: "–" when absent, objects as JSON.
export function text(value) {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function field(tag, name, value, attributes = {}) {
  const raw = typeof value === "object" && value !== null ? JSON.stringify(value) : value;
  return element(tag, { "data-field": name, "data-value": raw ?? "", ...attributes }, text(value));
}

export function table(headings, rows, empty, attributes = {}) {
  const head = element("tr", {}, ...headings.map((heading) => element("th", {}, heading)));
  const body = rows.length ? rows
    : [element("tr", {}, element("td", { colspan: headings.length, class: "muted" }, empty))];
  return element("table", attributes, element("thead", {}, head), element("tbody", {}, ...body));
}
