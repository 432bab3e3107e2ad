// Forms of the identity, agreement and credential pages: each form says where it goes with
// data-api="METHOD /path"; fields become JSON (checkboxes booleans, data-type="ids" lists of
// numbers). data-upload sends the file as multipart, data-blob shows an image answer,
// data-reload reloads the page on success. Errors appear in the form's [data-error].
import { api, ApiError, csrfToken } from "./api";

function fields(form: HTMLFormElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const el of Array.from(form.elements) as HTMLInputElement[]) {
    if (!el.name || el.name === "csrf_token" || el.type === "submit" || el.type === "file") continue;
    if (el.dataset.copy) {
      el.value = document.querySelector<HTMLInputElement>(el.dataset.copy)?.value ?? "";
    }
    if (el.type === "checkbox") out[el.name] = el.checked;
    else if (el.dataset.type === "ids") out[el.name] = el.value.split(/[\s,]+/).filter(Boolean).map(Number);
    else if (el.value !== "") out[el.name] = el.value;
  }
  return out;
}

async function send(method: string, path: string, body: BodyInit, json: boolean): Promise<Response> {
  const headers: Record<string, string> = { "x-csrf-token": csrfToken() };
  if (json) headers["content-type"] = "application/json";
  const resp = await fetch(path, { method, credentials: "same-origin", headers, body });
  if (!resp.ok) {
    const data = await resp.json().catch(() => ({}));
    throw new ApiError(resp.status, data.error ?? { code: "http_error", message: resp.statusText });
  }
  return resp;
}

document.addEventListener("submit", async (ev) => {
  const form = ev.target as HTMLFormElement;
  const spec = form.dataset.api;
  if (!spec) return;
  ev.preventDefault();
  const [method, path] = spec.split(" ");
  const out = form.querySelector<HTMLElement>("[data-result]");
  const err = form.querySelector<HTMLElement>("[data-error]");
  if (err) err.textContent = "";
  try {
    let result: unknown;
    if (form.dataset.upload !== undefined) {
      const data = new FormData();
      const file = form.querySelector<HTMLInputElement>("input[type=file]")?.files?.[0];
      if (file) data.append("file", file);
      result = await (await send(method, path, data, false)).json();
    } else if (form.dataset.blob !== undefined) {
      const blob = await (await send(method, path, JSON.stringify(fields(form)), true)).blob();
      const img = document.createElement("img");
      img.src = URL.createObjectURL(blob);
      img.className = "revealed-photo";
      out?.replaceChildren(img);
      return;
    } else {
      result = await api(method, path, fields(form));
    }
    if (form.dataset.reload !== undefined) {
      location.reload();
      return;
    }
    if (out) out.textContent = form.dataset.message ?? JSON.stringify(result, null, 1);
  } catch (e) {
    const text = e instanceof ApiError ? `${e.body.message} (${e.body.code})` : String(e);
    if (err) err.textContent = text;
    else alert(text);
  }
});
