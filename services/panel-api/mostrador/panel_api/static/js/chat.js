// The integrated chat: the ticket's conversation as WhatsApp bubbles, the line to write while the
// ticket is EN PROCESO and WhatsApp's 24 h window is open (with a live countdown), «Retomar
// Contacto» once it closed, failed sends with their reason and «Reintentar». Opening marks it read.

import { api } from './api.js';
import { actorLabel } from './details.js';
import { $, confirmDialog, formatted, h, safeUrl, statusClass, toast } from './dom.js';
import { formatDate, formatDuration, formatTime, onLangChange, t } from './i18n.js';

const FINAL = ['FACTURADO', 'CANCELADO', 'RESUELTO', 'NO CONTESTA', 'VENCIDO'];
let current = null; // {number, ticket, window, messages: Map}
let skew = 0; // server clock minus ours, so the countdown ignores a wrong client clock
let ticker = null;
let readTimer = null;
let onChanged = () => {};

export function initChat({ ticketChanged }) {
  onChanged = ticketChanged;
  $('#chat-close').addEventListener('click', closeChat);
  $('#chat-form').addEventListener('submit', (event) => { event.preventDefault(); send(); });
  $('#chat-input').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); send(); }
  });
  $('#chat-resume').addEventListener('click', resume);
  onLangChange(() => { if (current) { header(); renderMessages(); composer(); } });
}

export function openNumber() { return current ? current.number : null; }

export async function openChat(summary) {
  current = { number: summary.number, ticket: summary, window: null, messages: new Map() };
  $('#chat').hidden = false;
  $('#chat-messages').replaceChildren();
  header();
  composer();
  await refresh();
  markRead();
  $('#chat-input').focus();
}

export function closeChat() {
  current = null;
  clearInterval(ticker);
  $('#chat').hidden = true;
}

async function refresh() {
  if (!current) return;
  const number = current.number;
  try {
    const [detail, list] = await Promise.all([api(`/api/tickets/${number}`), api(`/api/tickets/${number}/messages`)]);
    if (!current || current.number !== number) return;
    skew = Date.parse(detail.server_time) - Date.now();
    current.ticket = detail;
    current.window = list.window;
    current.messages = new Map(list.items.map((m) => [m.message_id, m]));
    header();
    renderMessages();
    composer();
  } catch (error) {
    if (error.status === 404) closeChat();
    if (error.status !== 401) toast(error.message);
  }
}

// Live changes from the stream.
export function onTickets(tickets) {
  if (!current) return;
  const mine = tickets.find((ticket) => ticket.number === current.number);
  if (!mine) return;
  current.ticket = { ...current.ticket, ...mine };
  header();
  refreshWindow();
}

export function onMessages(messages) {
  if (!current) return;
  let inbound = false;
  for (const { number, message } of messages) {
    if (number !== current.number) continue;
    // A command's answer can come after the stream's newer state (a send that failed at once): keep the newest.
    const known = current.messages.get(message.message_id);
    if (known && known.version > message.version) continue;
    current.messages.set(message.message_id, message);
    inbound = inbound || message.direction === 'in';
  }
  renderMessages();
  if (inbound) markRead();
}

async function refreshWindow() {
  const number = current.number;
  try {
    const detail = await api(`/api/tickets/${number}`);
    if (!current || current.number !== number) return;
    current.ticket = detail;
    current.window = detail.window;
    header();
    composer();
  } catch { /* the next change retries */ }
}

function markRead() {
  clearTimeout(readTimer);
  const number = current.number;
  readTimer = setTimeout(async () => {
    try {
      await api(`/api/tickets/${number}/read`, { method: 'POST' });
    } catch (error) {
      if (error.status >= 500) toast(t('error.timeout'));
    }
  }, 200);
}

function header() {
  const ticket = current.ticket;
  $('#chat-name').textContent = ticket.name || ticket.phone || ticket.customer_key;
  $('#chat-meta').textContent = `Nº ${ticket.number} · ${ticket.phone || ''}`;
  const badge = $('#chat-status');
  badge.className = statusClass(ticket.status);
  badge.textContent = ticket.status;
}

function composer() {
  clearInterval(ticker);
  const input = $('#chat-input');
  const sendButton = $('#chat-send');
  const line = $('#chat-window');
  const resumeButton = $('#chat-resume');
  const win = current.window || current.ticket.window || { open: false, closes_at: null };
  const closesAt = win.closes_at ? Date.parse(win.closes_at) : null;
  // The server's word wins (the scheduler said it closed); the countdown only closes it on time.
  const open = win.open !== false && closesAt !== null && Date.now() + skew < closesAt;
  const inProcess = current.ticket.status === 'EN PROCESO';
  const writable = inProcess && open;
  input.disabled = !writable;
  sendButton.disabled = !writable;
  resumeButton.hidden = open || closesAt === null;
  line.classList.toggle('closed', !writable);
  if (FINAL.includes(current.ticket.status)) line.textContent = t('chat.closedTicket', { status: current.ticket.status });
  else if (!inProcess) line.textContent = t('chat.needsInProcess');
  else if (closesAt === null) line.textContent = t('chat.noWindow');
  else if (!open) line.textContent = t('chat.windowClosed');
  if (open && inProcess) {
    const tick = () => {
      const left = closesAt - (Date.now() + skew);
      if (left <= 0) { current.window = { open: false, closes_at: win.closes_at }; composer(); return; }
      line.textContent = t('chat.windowLeft', { left: formatDuration(left) });
    };
    tick();
    ticker = setInterval(tick, 1000);
  } else if (open) {
    ticker = setInterval(() => { if (Date.now() + skew >= closesAt) composer(); }, 1000);
  }
}

async function send() {
  const input = $('#chat-input');
  const text = input.value.trim();
  if (!text || input.disabled) return;
  const number = current.number;
  $('#chat-send').disabled = true;
  try {
    const accepted = await api(`/api/tickets/${number}/messages`, { method: 'POST', body: { text } });
    input.value = '';
    if (accepted.message && current && current.number === number) onMessages([{ number, message: accepted.message }]);
  } catch (error) {
    toast(error.message);
  } finally {
    if (current) composer();
  }
}

async function resume() {
  const name = current.ticket.name || current.ticket.phone || '';
  if (!await confirmDialog(t('chat.resumeConfirm', { name }), t('chat.resume'))) return;
  const number = current.number;
  try {
    const accepted = await api(`/api/tickets/${number}/resume`, { method: 'POST' });
    toast(t('chat.resumeSent'), 'info');
    if (accepted.message && current && current.number === number) onMessages([{ number, message: accepted.message }]);
  } catch (error) {
    toast(error.message);
  }
}

async function retry(message) {
  const number = current.number;
  try {
    const accepted = await api(`/api/tickets/${number}/messages/${encodeURIComponent(message.message_id)}/retry`, { method: 'POST' });
    if (accepted.message && current && current.number === number) onMessages([{ number, message: accepted.message }]);
  } catch (error) {
    toast(error.message);
  }
}

function renderMessages() {
  const box = $('#chat-messages');
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const list = [...current.messages.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const nodes = [];
  let day = '';
  for (const message of list) {
    const thisDay = new Date(message.at).toDateString();
    if (thisDay !== day) { day = thisDay; nodes.push(h('div', { class: 'day', text: formatDate(message.at) })); }
    nodes.push(bubble(message));
  }
  if (!list.length) nodes.push(h('p', { class: 'day', text: t('chat.empty') }));
  box.replaceChildren(...nodes);
  if (nearBottom || box.dataset.number !== String(current.number)) box.scrollTop = box.scrollHeight;
  box.dataset.number = String(current.number);
}

function ticks(status) {
  if (status === 'pending') return h('span', { class: 'ticks pending', title: status, text: '🕓' });
  if (status === 'sent') return h('span', { class: 'ticks sent', title: status, text: '✓' });
  if (status === 'delivered') return h('span', { class: 'ticks delivered', title: status, text: '✓✓' });
  if (status === 'read') return h('span', { class: 'ticks read', title: status, text: '✓✓' });
  if (status === 'failed') return h('span', { class: 'ticks failed', title: status, text: '⚠' });
  return null;
}

function content(m) {
  const parts = [];
  if (m.type === 'template') parts.push(h('p', { class: 'body template', text: `📄 ${t('chat.template')}: ${m.template || ''}` }));
  if (m.header) parts.push(h('strong', { class: 'body', text: m.header }));
  if (m.media) {
    const url = safeUrl(m.media.url);
    if (url) parts.push(h('img', { src: url, alt: m.media.caption || t('chat.image'), loading: 'lazy' }));
    if (m.media.caption) parts.push(h('p', { class: 'body', text: m.media.caption }));
  }
  if (m.location) {
    const url = safeUrl(m.location.map_url);
    const label = [m.location.name, m.location.address].filter(Boolean).join(' · ') || t('chat.location');
    parts.push(h('p', { class: 'body' }, `📍 ${label} `,
      url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: t('details.map') }) : null));
  }
  if (m.text && !(m.media && m.text === m.media.caption)) parts.push(h('p', { class: 'body' }, formatted(m.text)));
  if (m.reply_to_option) parts.push(h('p', { class: 'chosen', text: `↩ ${t('chat.chose')}: ${m.reply_to_option.title}` }));
  if (m.footer) parts.push(h('small', { class: 'muted', text: m.footer }));
  if (m.url) {
    const url = safeUrl(m.url);
    if (url) parts.push(h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'option', text: m.url }));
  }
  if (m.options && m.options.length) {
    parts.push(h('div', { class: 'options' }, m.list_button ? h('div', { class: 'option', text: `☰ ${m.list_button}` }) : null,
      m.options.map((o) => h('div', { class: 'option', title: o.description || '', text: o.title }))));
  }
  return parts;
}

function bubble(m) {
  const out = m.direction === 'out';
  const author = m.type === 'template' ? t('actor.template') : actorLabel(m.author);
  return h('div', { class: `bubble ${out ? 'out' : 'in'}${m.status === 'failed' ? ' failed' : ''}`, dataset: { id: m.message_id, status: m.status } },
    out ? h('span', { class: 'author', text: author }) : null,
    content(m),
    h('div', { class: 'meta' }, h('span', { text: formatTime(m.at) }), out ? ticks(m.status) : null),
    m.status === 'failed' ? h('div', { class: 'error' },
      `${t('chat.failed')}: ${(m.error && (m.error.message || m.error.title || m.error.details)) || ''} `,
      h('button', { type: 'button', class: 'retry', text: t('chat.retry'), onclick: () => retry(m) })) : null);
}
