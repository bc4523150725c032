// Requests to the processor's API from the console: the same origin and path prefix as the page,
// with the bearer token the user gave when the processor asks for one (basic credentials are the
// browser's own).
const tokenKey = "telemetry-processor-token";

// "/ui/" -> "/", "/v1/ui/" -> "/v1/", behind any prefix.
export const apiBase = location.pathname.slice(0, location.pathname.lastIndexOf("ui/"));

function askForToken(message) {
  const dialog = document.getElementById("token-dialog");
  document.getElementById("token-error").textContent = message;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const token = document.getElementById("token-input").value.trim();
      sessionStorage.setItem(tokenKey, token);
      resolve();
    }, { once: true });
    if (!dialog.open) dialog.showModal();
  });
}

// The envelope's data; throws an Error with the processor's message otherwise.
export async function fetchJson(path, options = {}) {
  for (;;) {
    const headers = new Headers(options.headers || {});
    const token = sessionStorage.getItem(tokenKey);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    const response = await fetch(apiBase + path, { ...options, headers });
    const challenge = response.headers.get("WWW-Authenticate") || "";
    if (response.status === 401 && !challenge.includes("Basic")) {
      await askForToken(token ? "That token was refused." : "");
      continue;
    }
    const body = await response.json();
    if (!response.ok) throw new Error(body.meta ? body.meta.message : response.statusText);
    return body.data;
  }
}
