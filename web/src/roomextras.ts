// Viewer page extras from the review platform: the news source (Art. 10) shown prominently,
// and image-text live posts (Art. 2) as they are published.
interface Post { id: number; text: string; source: string | null; image: string | null; status: string; at: string }

const room = document.querySelector<HTMLElement>(".room")?.dataset.room;
const newsBox = document.querySelector<HTMLElement>("[data-testid=news-source]");
const postList = document.querySelector<HTMLOListElement>("[data-testid=posts]");

function renderPost(p: Post): void {
  if (!postList || p.status !== "published" || postList.querySelector(`li[data-id="${p.id}"]`)) return;
  const li = document.createElement("li");
  li.dataset.id = String(p.id);
  const text = document.createElement("p");
  text.textContent = p.text;
  li.append(text);
  if (p.image) {
    const img = document.createElement("img");
    img.src = p.image;
    img.alt = "";
    li.append(img);
  }
  if (p.source) {
    const src = document.createElement("small");
    src.textContent = `来源 Source: ${p.source}`;
    li.append(src);
  }
  postList.prepend(li);
  postList.hidden = false;
}

async function load(): Promise<void> {
  if (!room) return;
  const news = await (await fetch(`/api/v1/rooms/${room}/news`)).json();
  if (newsBox && news.news) {
    const sources = [news.reprint_source, ...(news.sources ?? [])].filter(Boolean).join(" · ");
    newsBox.textContent = sources ? `新闻来源 News source: ${sources}` : "";
    newsBox.hidden = !sources;
  }
  const posts = await (await fetch(`/api/v1/rooms/${room}/posts`)).json();
  for (const p of (posts.posts ?? []).slice().reverse()) renderPost(p);
}

document.addEventListener("livegate:room-event", (ev) => {
  const msg = (ev as CustomEvent).detail as { type: string; post?: Post; id?: number };
  if (msg.type === "post" && msg.post) renderPost(msg.post);
  if (msg.type === "post_removed") postList?.querySelector(`li[data-id="${msg.id}"]`)?.remove();
});
void load().catch(() => undefined);
