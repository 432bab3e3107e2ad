// A small DOM danmaku renderer: comments fly right-to-left over the video in lanes, or
// sit centred at the top/bottom for a few seconds. Items carry data-id so a removal by a
// room manager takes them off the screen at once.

export interface DanmakuItem { id: number; text: string; color: string; position: string; self?: boolean }

const SCROLL_SECONDS = 8;
const FIXED_SECONDS = 4;
const LANE_HEIGHT = 30;

export class DanmakuLayer {
  private laneFree: number[] = [];
  private fixedFree: { top: number[]; bottom: number[] } = { top: [], bottom: [] };

  constructor(private layer: HTMLElement) {}

  private lanes(): number {
    return Math.max(1, Math.floor((this.layer.clientHeight || 360) / LANE_HEIGHT) - 1);
  }

  private pickLane(free: number[], now: number): number {
    const n = this.lanes();
    while (free.length < n) free.push(0);
    let best = 0;
    for (let i = 0; i < n; i++) {
      if (free[i] <= now) return i;
      if (free[i] < free[best]) best = i;
    }
    return best;
  }

  show(item: DanmakuItem): void {
    const el = document.createElement("div");
    el.className = "danmaku-item";
    el.dataset.id = String(item.id);
    el.dataset.testid = "danmaku-item";
    el.textContent = item.text;
    el.style.color = item.color;
    if (item.self) el.style.outline = "1px solid rgba(255,255,255,.6)";
    const now = performance.now();
    const width = this.layer.clientWidth || 640;
    this.layer.appendChild(el);
    if (item.position === "top" || item.position === "bottom") {
      const free = this.fixedFree[item.position as "top" | "bottom"];
      const lane = this.pickLane(free, now);
      free[lane] = now + FIXED_SECONDS * 1000;
      const y = item.position === "top" ? lane * LANE_HEIGHT : (this.layer.clientHeight || 360) - (lane + 1) * LANE_HEIGHT;
      el.style.transform = `translate(${Math.max(0, (width - el.offsetWidth) / 2)}px, ${y}px)`;
      setTimeout(() => el.remove(), FIXED_SECONDS * 1000);
      return;
    }
    const lane = this.pickLane(this.laneFree, now);
    const itemWidth = el.offsetWidth || item.text.length * 22;
    const speed = (width + itemWidth) / SCROLL_SECONDS; // px per second
    this.laneFree[lane] = now + ((itemWidth + 24) / speed) * 1000;
    const y = lane * LANE_HEIGHT;
    const anim = el.animate(
      [{ transform: `translate(${width}px, ${y}px)` }, { transform: `translate(${-itemWidth}px, ${y}px)` }],
      { duration: SCROLL_SECONDS * 1000, easing: "linear" },
    );
    anim.onfinish = () => el.remove();
  }

  remove(id: number): void {
    this.layer.querySelectorAll<HTMLElement>(`.danmaku-item[data-id="${id}"]`).forEach((el) => el.remove());
  }

  clear(): void {
    this.layer.replaceChildren();
  }
}
