// The console's pages, chosen by the URL's fragment (#/overview, #/training/<uid>/<serial>), so
// that every file is one fixed path of the processor. The segments after the page's name are its
// parameters, each decoded.
import { renderOverview } from "./overview.js";
import { renderCaches } from "./caches.js";
import { renderExplain } from "./explain.js";
import { renderPatterns } from "./patterns.js";
import { renderTraining } from "./training.js";

const pages = {
  overview: renderOverview, caches: renderCaches, explain: renderExplain,
  patterns: renderPatterns, training: renderTraining,
};
let stopPage = null;

function decode(segment) {
  try { return decodeURIComponent(segment); } catch { return segment; }
}

function route() {
  const segments = location.hash.replace(/^#\/?/, "").split("/");
  const known = Object.hasOwn(pages, segments[0]);
  const name = known ? segments[0] : "overview";
  const params = known ? segments.slice(1).map(decode) : [];
  for (const link of document.querySelectorAll("header nav a")) {
    link.classList.toggle("active", link.dataset.page === name);
  }
  if (stopPage) stopPage();
  const main = document.getElementById("page");
  main.replaceChildren();
  for (const key of Object.keys(main.dataset)) delete main.dataset[key];
  main.dataset.page = name;
  stopPage = pages[name](main, params) || null;
}

window.addEventListener("hashchange", route);
route();
