// Forms of the retention pages (legal holds, inspection exports): each says where it goes with
// data-retention-api="METHOD /path"; fields become JSON. data-reload reloads on success;
// otherwise the answer is summarised in [data-result]. Errors appear in [data-error].
import { api, ApiError } from "./api";

function fields(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const el of Array.from(form.elements) as HTMLInputElement[]) {
    if (!el.name || el.name === "csrf_token" || el.type === "submit") continue;
    if (el.value !== "") out[el.name] = el.value;
  }
  return out;
}

document.addEventListener("submit", async (ev) => {
  const form = ev.target as HTMLFormElement;
  const spec = form.dataset.retentionApi;
  if (!spec) return;
  ev.preventDefault();
  const [method, path] = spec.split(" ");
  const err = form.querySelector<HTMLElement>("[data-error]");
  const out = form.querySelector<HTMLElement>("[data-result]");
  if (err) err.textContent = "";
  const button = form.querySelector<HTMLButtonElement>("button[type=submit]");
  if (button) button.disabled = true;
  try {
    const result = await api<Record<string, unknown>>(method, path, fields(form));
    if (form.dataset.reload !== undefined) {
      location.reload();
      return;
    }
    if (out) {
      out.replaceChildren();
      const text = document.createElement("span");
      text.textContent = `Export ${result.id}: ${result.files} files, manifest ${String(result.manifest_sha256).slice(0, 16)}… `;
      out.append(text);
      if (typeof result.download === "string") {
        const link = document.createElement("a");
        link.href = result.download;
        link.textContent = "Download";
        out.append(link);
      }
    }
  } catch (e) {
    if (err) err.textContent = e instanceof ApiError ? e.body.message : String(e);
  } finally {
    if (button) button.disabled = false;
  }
});
