// Customer simulator: plays WhatsApp users against the fake Graph API.
// Everything the customer "sends" goes through POST {api}/_fake/inbound, i.e. a signed Meta-shaped
// webhook to the app under test; replies come back by long-polling {api}/_fake/conversations.
// All message text is inserted with textContent (never as HTML): it is untrusted input.

const config = JSON.parse(document.getElementById("sim-config").textContent);
const API = config.api;
const $ = (id) => document.getElementById(id);

const state = {
  version: -1,
  chats: new Map(),            // customer key -> {customer, messages, typing}
  extra: loadExtraCustomers(), // customers invented in this browser
  current: null,               // selected customer key
  reading: false,
};

// ---------- helpers ----------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString("es-AR", { hour: "2-digit", minute: "2-digit" });
}

function initials(name) {
  return (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch { return null; }
}

async function api(path, options = {}) {
  const response = await fetch(API + path, {
    headers: { "Content-Type": "application/json" },
    ...options,
    body: options.body ? JSON.stringify(options.body) : undefined,
  });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function loadExtraCustomers() {
  try { return JSON.parse(localStorage.getItem("sim-customers") || "[]"); } catch { return []; }
}

// ---------- customers ----------
function allCustomers() {
  const byKey = new Map();
  for (const c of [...config.presets, ...state.extra]) byKey.set(c.key, c);
  for (const chat of state.chats.values()) byKey.set(chat.customer.key, { ...byKey.get(chat.customer.key), ...chat.customer });
  return [...byKey.values()];
}

function currentCustomer() {
  return allCustomers().find((c) => c.key === state.current) || null;
}

function unreadCount(key) {
  const chat = state.chats.get(key);
  if (!chat || key === state.current) return 0;
  return chat.messages.filter((m) => m.direction === "out" && (m.status === "sent" || m.status === "delivered")).length;
}

function lastPreview(key) {
  const chat = state.chats.get(key);
  const last = chat && chat.messages[chat.messages.length - 1];
  return last ? preview(last) : "";
}

function renderCustomers() {
  const list = $("customers");
  list.replaceChildren();
  for (const c of allCustomers()) {
    const unread = unreadCount(c.key);
    const sub = lastPreview(c.key) || (c.wa_id ? "+" + c.wa_id : c.username || c.user_id);
    list.append(el("li", { class: c.key === state.current ? "active" : "", onclick: () => select(c.key) },
      el("div", { class: "avatar" }, initials(c.name)),
      el("div", { class: "meta" }, el("strong", {}, c.name || c.key), el("small", {}, sub)),
      unread ? el("span", { class: "badge" }, unread) : null));
  }
}

function select(key) {
  state.current = key;
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = true;
  $("text").disabled = $("btn-send").disabled = false;
  $("text").focus();
  render();
}

// ---------- rendering ----------
function preview(m) {
  if (m.direction === "in") {
    const msg = m.message;
    switch (msg.type) {
      case "text": return msg.text.body;
      case "interactive": return (msg.interactive[msg.interactive.type] || {}).title || "[respuesta]";
      case "location": return "📍 Ubicación";
      case "image": return "📷 " + (msg.image.caption || "Foto");
      case "sticker": return "🧩 Sticker";
      case "audio": return "🎤 Audio";
      case "reaction": return "Reaccionaste " + (msg.reaction.emoji || "");
      default: return "[" + msg.type + "]";
    }
  }
  const body = m.body;
  if (body.type === "text") return body.text.body;
  if (body.type === "interactive") return (body.interactive.body || {}).text || "[interactivo]";
  if (body.type === "template") return "📄 " + body.template.name;
  if (body.type === "image") return "📷 " + ((body.image || {}).caption || "Foto");
  return "[" + body.type + "]";
}

function ticks(m) {
  if (m.direction === "in") {
    if (m.status_code === null || m.status_code === undefined) return el("span", { class: "tick" }, "🕓");
    if (m.status_code !== 200) return el("span", { class: "warn", title: "El webhook no respondió 200" }, `⚠ HTTP ${m.status_code}`);
    return el("span", { class: m.read ? "tick read" : "tick" }, "✓✓");
  }
  switch (m.status) {
    case "sent": return el("span", { class: "tick" }, "✓");
    case "delivered": return el("span", { class: "tick" }, "✓✓");
    case "read": return el("span", { class: "tick read" }, "✓✓");
    case "failed": {
      const code = (m.errors[0] || {}).code;
      return el("span", { class: "tick failed", title: "No entregado" }, `⚠ ${code || ""}`);
    }
    default: return el("span", { class: "tick" }, "🕓");
  }
}

function stamp(m) {
  return el("span", { class: "stamp" }, clock(m.at), ticks(m));
}

function quoteFor(contextId, chat) {
  if (!contextId) return null;
  const quoted = chat.messages.find((x) => x.wamid === contextId);
  return quoted ? el("div", { class: "quote" }, preview(quoted).slice(0, 120)) : null;
}

function inboundBubble(m, chat) {
  const msg = m.message;
  const bubble = el("div", { class: "bubble mine" }, quoteFor(msg.context && msg.context.id, chat));
  if (msg.type === "image" || msg.type === "sticker") {
    const media = msg[msg.type];
    bubble.append(el("img", { src: `${API}/_fake/media/${encodeURIComponent(media.id)}`, alt: msg.type }));
    if (media.caption) bubble.append(el("div", {}, media.caption));
  } else if (msg.type === "location") {
    bubble.append(el("div", {}, `📍 ${msg.location.latitude.toFixed(5)}, ${msg.location.longitude.toFixed(5)}`));
    if (msg.location.name) bubble.append(el("div", { class: "footer" }, msg.location.name));
  } else {
    bubble.append(el("span", {}, preview(m)));
  }
  bubble.append(stamp(m));
  return bubble;
}

function outboundBubble(m, chat) {
  const body = m.body;
  const bubble = el("div", { class: "bubble theirs" }, quoteFor(body.context && body.context.message_id, chat));
  if (body.type === "interactive") {
    const it = body.interactive;
    if (it.header && it.header.text) bubble.append(el("div", { class: "header" }, it.header.text));
    bubble.append(el("div", {}, (it.body || {}).text || ""));
    if (it.footer && it.footer.text) bubble.append(el("div", { class: "footer" }, it.footer.text));
    bubble.append(stamp(m));
    const actions = el("div", { class: "actions" });
    if (it.type === "button") {
      for (const b of it.action.buttons || []) {
        const reply = b.reply || {};
        actions.append(el("button", { type: "button", onclick: () => send({
          type: "button_reply", reply_id: reply.id, reply_title: reply.title, context_id: m.wamid }) }, reply.title));
      }
    } else if (it.type === "list") {
      actions.append(el("button", { type: "button", onclick: () => openList(m) }, "☰ " + (it.action.button || "Ver opciones")));
    } else if (it.type === "cta_url") {
      const params = it.action.parameters || {};
      const href = safeUrl(params.url);
      if (href) actions.append(el("a", { href, target: "_blank", rel: "noopener noreferrer" }, "↗ " + params.display_text));
    } else if (it.type === "location_request_message") {
      actions.append(el("button", { type: "button", onclick: () => openPanel("panel-location") }, "📍 Enviar ubicación"));
    }
    if (actions.childElementCount) bubble.append(actions);
  } else if (body.type === "template") {
    const params = ((body.template.components || [])[0] || {}).parameters || [];
    bubble.append(el("div", { class: "header" }, "📄 Plantilla " + body.template.name),
      el("div", {}, params.map((p) => p.text).join(" · ")), stamp(m));
  } else if (body.type === "image") {
    const href = safeUrl((body.image || {}).link);
    if (href) bubble.append(el("img", { src: href, alt: "imagen" }));
    if (body.image && body.image.caption) bubble.append(el("div", {}, body.image.caption));
    bubble.append(stamp(m));
  } else {
    bubble.append(el("span", {}, preview(m)), stamp(m));
  }
  bubble.append(el("button", { class: "react", type: "button", title: "Reaccionar",
    onclick: () => send({ type: "reaction", reaction_to: m.wamid, emoji: "👍" }) }, "👍"));
  return bubble;
}

function render() {
  renderCustomers();
  const customer = currentCustomer();
  const box = $("messages");
  if (!customer) {
    box.replaceChildren(el("div", { class: "empty" }, "Elegí un cliente a la izquierda para empezar a chatear."));
    return;
  }
  const chat = state.chats.get(customer.key) || { customer, messages: [], typing: false };
  $("chat-name").textContent = customer.name || customer.key;
  $("chat-avatar").textContent = initials(customer.name);
  const sub = $("chat-sub");
  sub.textContent = chat.typing ? "escribiendo…" : (customer.wa_id ? "+" + customer.wa_id : `${customer.username || ""} (sin teléfono)`);
  sub.className = chat.typing ? "typing" : "";
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const reactions = new Map();
  for (const m of chat.messages) {
    if (m.direction === "in" && m.message.type === "reaction") reactions.set(m.message.reaction.message_id, m.message.reaction.emoji);
  }
  const nodes = [];
  for (const m of chat.messages) {
    if (m.direction === "in" && m.message.type === "reaction") continue;
    const bubble = m.direction === "in" ? inboundBubble(m, chat) : outboundBubble(m, chat);
    if (reactions.get(m.wamid)) bubble.append(el("span", { class: "reaction" }, reactions.get(m.wamid)));
    nodes.push(bubble);
  }
  box.replaceChildren(...(nodes.length ? nodes : [el("div", { class: "empty" }, "Todavía no hay mensajes. ¡Escribí el primero!")]));
  if (atBottom || nodes.length < 8) {
    box.scrollTop = box.scrollHeight;
    // Photos grow the chat once they load: stay pinned to the newest message.
    for (const img of box.querySelectorAll("img")) img.addEventListener("load", () => { box.scrollTop = box.scrollHeight; }, { once: true });
  }
  markRead(chat);
}

// Looking at the chat is what makes the business's messages "read" (blue ticks + read webhooks).
async function markRead(chat) {
  const pending = chat.messages.some((m) => m.direction === "out" && (m.status === "sent" || m.status === "delivered"));
  if (!pending || state.reading || document.visibilityState !== "visible") return;
  state.reading = true;
  try { await api("/_fake/read", { method: "POST", body: { customer: chat.customer.key } }); }
  catch (err) { console.warn(err); }
  finally { state.reading = false; }
}

// ---------- sending ----------
async function send(fields) {
  const customer = currentCustomer();
  if (!customer) { toast("Elegí un cliente primero"); return; }
  const who = { wa_id: customer.wa_id || null, user_id: customer.user_id || null, name: customer.name || null,
    username: customer.username || null };
  try {
    const result = await api("/_fake/inbound", { method: "POST", body: { ...who, ...fields } });
    if (result.status_code !== 200) toast(`El webhook respondió ${result.status_code ?? "sin respuesta"} (intentos: ${result.attempts})`);
  } catch (err) {
    toast("No se pudo enviar: " + err.message);
  }
}

async function upload(blob) {
  const data = await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
  return api("/_fake/media", { method: "POST", body: { data_base64: data, mime_type: blob.type || "application/octet-stream" } });
}

async function sendSticker() {
  const canvas = Object.assign(document.createElement("canvas"), { width: 160, height: 160 });
  const ctx = canvas.getContext("2d");
  ctx.font = "120px serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText("🥟", 80, 90);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/webp"));
  const media = await upload(blob);
  await send({ type: "sticker", media_id: media.id, mime_type: media.mime_type });
}

async function sendAudio() {
  // A voice note's bytes don't matter to the bot; it should answer politely that it can't listen.
  const blob = new Blob([new Uint8Array([0x4f, 0x67, 0x67, 0x53, 0, 2, 0, 0])], { type: "audio/ogg" });
  const media = await upload(blob);
  await send({ type: "audio", media_id: media.id, mime_type: "audio/ogg; codecs=opus", voice: true });
}

function openPanel(id) {
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = panel.id !== id || !panel.hidden;
}

function openList(m) {
  const it = m.body.interactive;
  $("list-title").textContent = it.action.button || "Opciones";
  const rows = $("list-rows");
  rows.replaceChildren();
  for (const section of it.action.sections || []) {
    if (section.title) rows.append(el("div", { class: "section" }, section.title));
    for (const row of section.rows || []) {
      rows.append(el("button", { type: "button", class: "option", onclick: () => {
        $("panel-list").hidden = true;
        send({ type: "list_reply", reply_id: row.id, reply_title: row.title, reply_description: row.description || null,
          context_id: m.wamid });
      } }, row.title, row.description ? el("small", {}, row.description) : null));
    }
  }
  openPanel("panel-list");
}

// ---------- live updates (long polling) ----------
async function poll() {
  for (;;) {
    try {
      const data = await api(`/_fake/conversations?since=${state.version}&wait=25`);
      state.version = data.version;
      state.chats = new Map(data.conversations.map((c) => [c.customer.key, c]));
      render();
    } catch (err) {
      console.warn(err);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  }
}

// ---------- wiring ----------
function wire() {
  $("business").textContent = `${config.business.name} · +${config.business.display_phone_number}`;
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    $("text").value = "";
    send({ type: "text", text });
  });
  $("btn-attach").addEventListener("click", () => openPanel("panel-attach"));
  for (const button of document.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => { $(button.dataset.close).hidden = true; });
  }
  $("panel-attach").addEventListener("click", async (event) => {
    const action = event.target.closest("button")?.dataset.action;
    if (!action) return;
    $("panel-attach").hidden = true;
    try {
      if (action === "location") openPanel("panel-location");
      else if (action === "photo") $("file").click();
      else if (action === "sticker") await sendSticker();
      else if (action === "audio") await sendAudio();
      else if (action === "unsupported") await send({ type: "unsupported", original_type: "poll_creation" });
    } catch (err) { toast("Error: " + err.message); }
  });
  $("file").addEventListener("change", async () => {
    const file = $("file").files[0];
    $("file").value = "";
    if (!file) return;
    try {
      const media = await upload(file);
      const caption = $("text").value.trim();
      $("text").value = "";
      await send({ type: "image", media_id: media.id, mime_type: media.mime_type, caption: caption || null });
    } catch (err) { toast("No se pudo subir la foto: " + err.message); }
  });
  for (const place of config.places) {
    $("places").append(el("button", { type: "button", onclick: () => {
      $("lat").value = place.latitude; $("lon").value = place.longitude;
    } }, place.label));
  }
  $("send-location").addEventListener("click", () => {
    const latitude = Number($("lat").value), longitude = Number($("lon").value);
    if (!Number.isFinite(latitude) || !Number.isFinite(longitude) || Math.abs(latitude) > 90 || Math.abs(longitude) > 180) {
      toast("Latitud/longitud inválidas"); return;
    }
    $("panel-location").hidden = true;
    send({ type: "location", latitude, longitude });
  });
  $("new-customer").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const phone = form.phone.value.replace(/\D/g, "");
    const customer = { key: phone, wa_id: phone, user_id: null, name: form.name.value.trim(), username: null };
    state.extra = [...state.extra.filter((c) => c.key !== phone), customer];
    localStorage.setItem("sim-customers", JSON.stringify(state.extra));
    form.reset();
    select(phone);
  });
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") render(); });
}

wire();
render();
poll();
