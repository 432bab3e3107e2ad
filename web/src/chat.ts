// Console room comment stream (actions, held queue, modes) and the studio's managers page.
import { api, ApiError } from "./api";

const consoleRoot = document.querySelector<HTMLElement>(".chat-console");
const managersRoot = document.querySelector<HTMLElement>(".chat-managers");
const room = (consoleRoot ?? managersRoot)?.dataset.room ?? "";

function onClick(action: string, fn: (el: HTMLElement) => Promise<void>): void {
  document.addEventListener("click", async (ev) => {
    const el = (ev.target as HTMLElement).closest<HTMLElement>(`[data-action="${action}"]`);
    if (!el) return;
    ev.preventDefault();
    try { await fn(el); } catch (err) {
      alert(err instanceof ApiError ? `${err.body.message} (${err.body.code})` : String(err));
    }
  });
}

onClick("chat-remove", async (el) => {
  const reason = prompt("Reason for removing this comment:", "violates the room rules");
  if (!reason) return;
  await api("POST", `/api/v1/rooms/${room}/comments/${el.dataset.id}/remove`, { reason });
  el.closest("li")?.setAttribute("data-status", "removed");
  el.remove();
});
onClick("chat-approve", async (el) => {
  await api("POST", `/api/v1/rooms/${room}/comments/${el.dataset.id}/approve`, {});
  el.closest("li")?.remove();
});
onClick("chat-reject", async (el) => {
  await api("POST", `/api/v1/rooms/${room}/comments/${el.dataset.id}/reject`, {});
  el.closest("li")?.remove();
});
onClick("chat-mute", async (el) => {
  const minutes = Number(prompt("Mute for how many minutes?", "10"));
  const reason = minutes > 0 ? prompt("Reason:", "spamming") : null;
  if (!reason) return;
  await api("POST", `/api/v1/rooms/${room}/mutes`, { account_id: Number(el.dataset.account), minutes, reason });
});
onClick("manager-remove", async (el) => {
  await api("POST", `/api/v1/studio/rooms/${room}/managers/${el.dataset.account}/remove`, {});
  location.reload();
});

document.querySelector<HTMLFormElement>("[data-form=chat-modes]")?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target as HTMLFormElement;
  const reason = prompt("Reason for changing the room's modes:");
  if (!reason) return;
  const premoderation = (f.elements.namedItem("premoderation") as HTMLInputElement).checked;
  const slow = Number((f.elements.namedItem("slow_seconds") as HTMLInputElement).value || 0);
  await api("PUT", `/api/v1/rooms/${room}/chat-modes`, { premoderation, slow_seconds: slow, reason });
  location.reload();
});

document.querySelector<HTMLFormElement>("[data-form=manager-add]")?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const username = ((ev.target as HTMLFormElement).elements.namedItem("username") as HTMLInputElement).value;
  try {
    await api("POST", `/api/v1/studio/rooms/${room}/managers`, { username });
    location.reload();
  } catch (err) {
    alert(err instanceof ApiError ? err.body.message : String(err));
  }
});

// The console's live stream: new comments and held ones arrive over the room socket.
if (consoleRoot) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws/rooms/${room}`);
  const stream = document.querySelector<HTMLUListElement>("[data-testid=comment-stream]");
  const heldList = document.querySelector<HTMLUListElement>("[data-testid=held-queue]");
  const line = (m: Record<string, unknown>, status: string): HTMLLIElement => {
    const li = document.createElement("li");
    li.dataset.id = String(m.id);
    li.dataset.status = status;
    li.textContent = `[${status}] ${String(m.nickname)}: ${String(m.body ?? m.text)} `;
    return li;
  };
  const handle = (msg: Record<string, unknown>): void => {
    if (msg.type === "batch") { for (const e of msg.events as Record<string, unknown>[]) handle(e); return; }
    if (msg.type === "comment" && stream) {
      const li = line(msg, "published");
      const b = document.createElement("button");
      b.type = "button"; b.textContent = "Remove"; b.dataset.action = "chat-remove"; b.dataset.id = String(msg.id);
      li.append(b);
      stream.prepend(li);
    } else if (msg.type === "held" && heldList) {
      const m = msg.message as Record<string, unknown>;
      const li = line(m, "held");
      for (const [act, label] of [["chat-approve", "Approve"], ["chat-reject", "Reject"]]) {
        const b = document.createElement("button");
        b.type = "button"; b.textContent = label; b.dataset.action = act; b.dataset.id = String(m.id);
        li.append(b);
      }
      heldList.append(li);
    } else if (msg.type === "removed") {
      for (const id of msg.ids as number[]) {
        stream?.querySelector(`li[data-id="${id}"]`)?.setAttribute("data-status", "removed");
      }
    }
  };
  ws.addEventListener("message", (ev) => { try { handle(JSON.parse(String(ev.data))); } catch { /* ignore */ } });
}

// Console: platform switches and the lexicon.
onClick("platform-premoderation", async (el) => {
  const reason = prompt("Reason (recorded in the audit log):");
  if (!reason) return;
  await api("POST", "/api/v1/chat/premoderation", { on: el.dataset.on === "true", reason });
  location.reload();
});
onClick("blocked-outcome", async (el) => {
  const reason = prompt("Reason (recorded in the audit log):");
  if (!reason) return;
  await api("POST", "/api/v1/chat/settings", { blocked_outcome: el.dataset.value, reason });
  location.reload();
});
document.querySelector<HTMLFormElement>("[data-form=lexicon-upload]")?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target as HTMLFormElement;
  const file = (f.elements.namedItem("file") as HTMLInputElement).files?.[0];
  if (!file) return;
  const merge = (f.elements.namedItem("merge") as HTMLInputElement).checked;
  try {
    const info = await api<{ version: string; entries: number }>("POST", "/api/v1/chat/lexicon",
      { tsv: await file.text(), source: file.name, merge });
    alert(`Lexicon ${info.version} (${info.entries} terms) in service.`);
    location.reload();
  } catch (err) {
    alert(err instanceof ApiError ? `${err.body.message} ${JSON.stringify(err.body.details ?? {})}` : String(err));
  }
});
