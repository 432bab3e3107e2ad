// Reporting (Article 19): the public /report form, and a "Report" button on any element
// that carries data-report-target ("room" | "comment"/"message" | "user"/"account") and
// data-report-id (plus data-report-room for a comment). Anonymous reporters solve a small
// proof-of-work challenge first (hashcash: sha256(challenge + ":" + nonce) must start with
// `bits` zero bits); signed-in reporters send their CSRF token instead.
import { api, ApiError, csrfToken } from "./api";

interface Challenge { challenge: string; bits: number; expires: number }
interface Receipt { ticket: string; status_url: string; status_token: string; merged: boolean }
interface CategoryList { categories: { code: string; label: string }[] }

// --- SHA-256 (synchronous: crypto.subtle costs an await per hash) -------------------------
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W = new Uint32Array(64);

export function sha256(msg: Uint8Array): Uint8Array {
  const len = msg.length;
  const blocks = Math.ceil((len + 9) / 64);
  const buf = new Uint8Array(blocks * 64);
  buf.set(msg);
  buf[len] = 0x80;
  const view = new DataView(buf.buffer);
  view.setUint32(buf.length - 4, len * 8);
  view.setUint32(buf.length - 8, Math.floor(len / 0x20000000));
  let h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a;
  let h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
  for (let off = 0; off < buf.length; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = W[i - 15], b = W[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  [h0, h1, h2, h3, h4, h5, h6, h7].forEach((v, i) => ov.setUint32(i * 4, v));
  return out;
}

function leadingZeroBits(d: Uint8Array): number {
  let n = 0;
  for (const byte of d) {
    if (byte === 0) { n += 8; continue; }
    return n + Math.clz32(byte) - 24;
  }
  return n;
}

/** Find the nonce, yielding to the page every few thousand hashes. */
export async function solve(challenge: string, bits: number): Promise<string> {
  const enc = new TextEncoder();
  for (let i = 0; ; i++) {
    const nonce = i.toString(16);
    if (leadingZeroBits(sha256(enc.encode(`${challenge}:${nonce}`))) >= bits) return nonce;
    if (i % 4096 === 4095) await new Promise((r) => setTimeout(r, 0));
  }
}

// --- sending a report ------------------------------------------------------------------------
export async function sendReport(fields: Record<string, string>): Promise<Receipt> {
  const body: Record<string, string> = { ...fields };
  if (!csrfToken()) {
    const c = await api<Challenge>("GET", "/api/v1/complaints/challenge");
    body.challenge = c.challenge;
    body.nonce = c.bits > 0 ? await solve(c.challenge, c.bits) : "0";
  }
  if (!body.room_id) delete body.room_id;
  return api<Receipt>("POST", "/api/v1/complaints", body);
}

function message(err: unknown): string {
  return err instanceof ApiError ? `${err.body.message} (${err.body.code})` : String(err);
}

function showReceipt(box: HTMLElement, r: Receipt): void {
  box.querySelector<HTMLElement>("[data-ticket]")!.textContent = r.ticket;
  const link = box.querySelector<HTMLAnchorElement>("[data-status-link]")!;
  link.href = r.status_url;
  link.textContent = new URL(r.status_url, location.href).href;
  box.hidden = false;
}

async function submitForm(form: HTMLFormElement, receipt: HTMLElement): Promise<void> {
  const error = form.querySelector<HTMLElement>("[data-error]");
  const progress = form.querySelector<HTMLElement>("[data-report-progress]");
  const button = form.querySelector<HTMLButtonElement>("button[type=submit]");
  if (error) error.textContent = "";
  const fields: Record<string, string> = {};
  new FormData(form).forEach((v, k) => { fields[k] = String(v); });
  if (!fields.target_id?.trim()) {
    if (error) error.textContent = "Say which room, comment, user or sanction you are reporting.";
    return;
  }
  if (!fields.category) {
    if (error) error.textContent = "Choose a category.";
    return;
  }
  if (button) button.disabled = true;
  if (progress) progress.hidden = false;
  try {
    const r = await sendReport(fields);
    form.hidden = true;
    showReceipt(receipt, r);
  } catch (err) {
    if (error) error.textContent = message(err);
  } finally {
    if (button) button.disabled = false;
    if (progress) progress.hidden = true;
  }
}

// The /report page.
document.addEventListener("submit", (ev) => {
  const form = ev.target as HTMLFormElement;
  if (form.dataset.form !== "report") return;
  ev.preventDefault();
  const receipt = document.querySelector<HTMLElement>("[data-report-receipt]");
  if (receipt) void submitForm(form, receipt);
});

// --- the report button and its dialog -----------------------------------------------------
const TYPES: Record<string, string> = { room: "room", comment: "message", message: "message", user: "account",
  account: "account" };
let categories: Promise<CategoryList> | null = null;

function esc(text: string): string {
  const d = document.createElement("div");
  d.textContent = text;
  return d.innerHTML;
}

async function openDialog(target: HTMLElement): Promise<void> {
  const type = TYPES[target.dataset.reportTarget ?? ""];
  const id = target.dataset.reportId ?? "";
  if (!type || !id) return;
  categories ??= api<CategoryList>("GET", "/api/v1/complaints/categories");
  const cats = (await categories).categories;
  const dialog = document.createElement("dialog");
  dialog.className = "report-dialog";
  dialog.dataset.testid = "report-dialog";
  dialog.innerHTML = `
    <form method="dialog" class="stack">
      <h2>Report this ${esc(type === "message" ? "comment" : type === "account" ? "user" : "room")}</h2>
      <input type="hidden" name="target_type" value="${esc(type)}">
      <input type="hidden" name="target_id" value="${esc(id)}">
      <input type="hidden" name="room_id" value="${esc(target.dataset.reportRoom ?? "")}">
      <label>Category <select name="category" required data-testid="report-category">
        <option value="" disabled selected>Choose a category…</option>
        ${cats.map((c) => `<option value="${esc(c.code)}">${esc(c.label)}</option>`).join("")}</select></label>
      <label>What happened? <textarea name="description" maxlength="2000" rows="3"></textarea></label>
      <label>Contact (optional) <input name="contact" maxlength="200" autocomplete="off"></label>
      <p class="muted" data-report-progress hidden>Checking that you are not a robot…</p>
      <p class="error" data-error></p>
      <menu><button value="cancel" type="button" data-close>Cancel</button>
        <button type="submit" data-testid="report-submit">Send report</button></menu>
    </form>
    <div data-report-receipt hidden><p>Ticket <strong data-ticket data-testid="report-ticket"></strong> received.</p>
      <p>Your private status link: <a data-status-link data-testid="report-status-link" target="_blank" rel="noopener"></a></p>
      <button type="button" data-close>Close</button></div>`;
  document.body.appendChild(dialog);
  const form = dialog.querySelector("form")!;
  const receipt = dialog.querySelector<HTMLElement>("[data-report-receipt]")!;
  form.addEventListener("submit", (ev) => { ev.preventDefault(); void submitForm(form, receipt); });
  dialog.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", () => dialog.close()));
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
}

function decorate(root: ParentNode): void {
  root.querySelectorAll<HTMLElement>("[data-report-target]").forEach((el) => {
    if (el.dataset.reportReady) return;
    el.dataset.reportReady = "1";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "report-button link";
    button.dataset.testid = `report-${el.dataset.reportTarget}`;
    button.title = "Report";
    button.textContent = "⚑ Report";
    button.addEventListener("click", (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      openDialog(el).catch((err) => alert(message(err)));
    });
    el.appendChild(button);
  });
}

// --- the console's live feed of surges and escalations (server-sent events) ----------------
function patrolFeed(list: HTMLElement): void {
  const source = new EventSource(list.dataset.patrolFeed!);
  source.addEventListener("open", () => { list.dataset.connected = "1"; });
  const show = (ev: MessageEvent<string>): void => {
    const alert = JSON.parse(ev.data) as { type: string; case: number; room?: string | null; reports?: number;
      reason?: string };
    const item = document.createElement("li");
    item.dataset.testid = `feed-${alert.type}`;
    const link = document.createElement("a");
    link.href = `/console/complaints/${alert.case}`;
    link.textContent = `case ${alert.case}`;
    item.append(alert.type === "complaint_surge"
      ? `Surge: room ${alert.room ?? ""} has ${alert.reports ?? ""} reports — `
      : `Escalated (${alert.reason ?? ""}) — `, link);
    list.prepend(item);
    list.hidden = false;
  };
  source.addEventListener("complaint_surge", show as EventListener);
  source.addEventListener("complaint_escalated", show as EventListener);
}

function start(): void {
  decorate(document);
  const feed = document.querySelector<HTMLElement>("[data-patrol-feed]");
  if (feed) patrolFeed(feed);
  // Comments arrive after load: decorate them as they are added.
  new MutationObserver((records) => {
    for (const r of records) r.addedNodes.forEach((n) => { if (n instanceof HTMLElement) decorate(n.parentNode ?? n); });
  }).observe(document.body, { childList: true, subtree: true });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
