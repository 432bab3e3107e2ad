// Review console: the patrol wall (refreshing thumbnails, logged watch, one-click cut-off),
// case decisions, adding evidence to the hash bank, and the emergency switches.
import { api, ApiError } from "./api";

function refreshThumbnails(): void {
  const now = Date.now();
  document.querySelectorAll<HTMLImageElement>("img[data-thumb]").forEach((img) => {
    const base = img.src.split("?")[0];
    img.src = `${base}?t=${now}`;
  });
}

function report(text: string): void {
  const out = document.querySelector<HTMLElement>("[data-result]");
  if (out) out.textContent = text;
}

document.addEventListener("click", async (ev) => {
  const el = (ev.target as HTMLElement).closest<HTMLElement>("[data-action]");
  if (!el) return;
  const room = el.dataset.room ?? "";
  try {
    if (el.dataset.action === "watch") {
      ev.preventDefault();
      await api("POST", `/api/v1/patrol/rooms/${room}/watch`);
      window.location.href = `/r/${room}`;
    } else if (el.dataset.action === "wall-cutoff") {
      el.setAttribute("disabled", "");
      const r = await api<{ order: number }>("POST", `/api/v1/patrol/rooms/${room}/cutoff`,
        { reason: "cut off from the patrol wall" });
      const tile = el.closest<HTMLElement>(".tile");
      if (tile) { tile.dataset.cut = String(r.order); tile.classList.add("cut"); }
      el.textContent = "Cut off";
    } else if (el.dataset.action === "bank") {
      const r = await api<{ id: number }>("POST", `/api/v1/review/evidence/${el.dataset.evidence}/bank`, {});
      el.textContent = `In the bank (#${r.id})`;
    } else if (el.dataset.action === "claim") {
      const id = document.querySelector<HTMLElement>("[data-case]")?.dataset.case;
      await api("POST", `/api/v1/review/cases/${id}/claim`);
      report("Claimed.");
    }
  } catch (e) {
    report(e instanceof ApiError ? e.body.message : String(e));
  }
});

document.querySelector<HTMLFormElement>("form[data-decide]")?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target as HTMLFormElement);
  const id = document.querySelector<HTMLElement>("[data-case]")?.dataset.case;
  try {
    await api("POST", `/api/v1/review/cases/${id}/decision`, {
      decision: f.get("decision"), reason: f.get("reason"), escalate_to: f.get("escalate_to") || null,
    });
    report("Decided.");
  } catch (e) { report(e instanceof ApiError ? e.body.message : String(e)); }
});

document.querySelector<HTMLFormElement>("form[data-switch]")?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target as HTMLFormElement);
  const incident = String(f.get("incident_id") ?? "");
  await api("POST", "/api/v1/emergency/switches", {
    name: f.get("name"), on: f.get("on") === "true", reason: f.get("reason"),
    category: f.get("category") || null, incident_id: incident ? Number(incident) : null,
  });
  window.location.reload();
});

if (document.querySelector("[data-wall]")) setInterval(refreshThumbnails, 3000);
