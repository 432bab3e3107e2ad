// Behaviour shared by the console and studio pages.
import { api, ApiError } from "./api";

function onClick(action: string, fn: (el: HTMLElement) => Promise<void>): void {
  document.addEventListener("click", async (ev) => {
    const el = (ev.target as HTMLElement).closest<HTMLElement>(`[data-action="${action}"]`);
    if (!el) return;
    ev.preventDefault();
    try {
      await fn(el);
    } catch (err) {
      alert(err instanceof ApiError ? `${err.body.message} (${err.body.code})` : String(err));
    }
  });
}

onClick("cutoff", async (el) => {
  const room = el.dataset.room!;
  const reason = prompt(`Reason for cutting off room ${room}:`);
  if (!reason) return;
  await api("POST", `/api/v1/rooms/${room}/cutoff`, { reason });
  location.reload();
});

onClick("unblock", async (el) => {
  const room = el.dataset.room!;
  const reason = prompt(`Reason for lifting the block on room ${room}:`);
  if (!reason) return;
  await api("POST", `/api/v1/rooms/${room}/unblock`, { reason });
  location.reload();
});

onClick("reveal-key", async (el) => {
  const code = el.parentElement?.querySelector<HTMLElement>("code.secret");
  if (code) code.textContent = code.textContent === "••••••••" ? code.dataset.secret ?? "" : "••••••••";
});

onClick("rotate-key", async (el) => {
  if (!confirm("Rotate the stream key? The old key stops working at once.")) return;
  await api("POST", `/api/v1/studio/rooms/${el.dataset.room}/rotate-key`);
  location.reload();
});

document.addEventListener("submit", async (ev) => {
  const form = ev.target as HTMLFormElement;
  if (form.dataset.form !== "create-room") return;
  ev.preventDefault();
  const data = Object.fromEntries(new FormData(form).entries());
  try {
    await api("POST", "/api/v1/studio/rooms", data);
    location.reload();
  } catch (err) {
    alert(err instanceof ApiError ? err.body.message : String(err));
  }
});

async function showPanels(): Promise<void> {
  const panel = location.hash.slice(1);
  document.querySelectorAll<HTMLElement>(".panel").forEach((p) => (p.hidden = p.id !== panel));
  if (panel === "audit") {
    const box = document.querySelector<HTMLElement>("[data-audit]")!;
    const data = await api<{ entries: { seq: number; at: string; actor: string; action: string; target: string; reason: string }[] }>(
      "GET", "/api/v1/audit?limit=50");
    box.replaceChildren(...data.entries.map((e) => {
      const row = document.createElement("div");
      row.className = "audit-row";
      row.textContent = `#${e.seq} ${e.at} ${e.actor} ${e.action} ${e.target} ${e.reason}`;
      return row;
    }));
  } else if (panel === "policy") {
    const pre = document.querySelector<HTMLElement>("[data-policy]")!;
    const data = await api<{ version: string; policy: unknown }>("GET", "/api/v1/policy");
    pre.textContent = `version ${data.version}\n` + JSON.stringify(data.policy, null, 2);
  }
}
if (document.body.classList.contains("console")) {
  window.addEventListener("hashchange", () => void showPanels().catch(() => undefined));
  void showPanels().catch(() => undefined);
}
