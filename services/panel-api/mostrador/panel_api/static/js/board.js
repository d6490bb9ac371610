// The «Pedidos» table: filters in the column headers, search, keyset paging («Cargar más»),
// + for details, status changes from the row, live updates, unread rows in bold.

import { api } from './api.js';
import { renderDetails } from './details.js';
import { $, h, statusClass, toast } from './dom.js';
import { initHeaderFilters, nameMatches, openedMatches, openedParams, syncHeaderFilters } from './filters.js';
import { formatDateTime, onLangChange, t } from './i18n.js';

export const STATUSES = ['INCOMPLETO', 'COMPLETO', 'EN PROCESO', 'FACTURADO', 'CANCELADO', 'RESUELTO', 'NO CONTESTA', 'VENCIDO'];
const TYPES = ['PEDIDO', 'AYUDA'];
// What an operator may do by hand (the tickets service enforces it; this only offers the choices).
const TRANSITIONS = {
  INCOMPLETO: ['EN PROCESO'], COMPLETO: ['EN PROCESO'],
  'EN PROCESO': ['FACTURADO', 'CANCELADO', 'RESUELTO', 'NO CONTESTA'],
};
const PAGE = 50;

const NO_FILTERS = { status: [], type: '', branch: '', topic: '', q: '', name: '', from: '', to: '', unread: false };
const filters = { ...NO_FILTERS, sort: 'newest' };
let items = [];
let cursor = null;
let total = 0;
let capped = false;
let generation = 0;
const expanded = new Set();
const detailCache = new Map();
let ctx = null;

export function initBoard(context) {
  ctx = context;
  buildFilters();
  $('#load-more').addEventListener('click', () => load(false));
  $('#unread-toggle').addEventListener('click', () => { filters.unread = !filters.unread; syncToggles(); reload(); });
  $('#sort-toggle').addEventListener('click', () => {
    filters.sort = filters.sort === 'newest' ? 'last_message' : 'newest';
    syncToggles();
    reload();
  });
  $('#clear-filters').addEventListener('click', () => {
    Object.assign(filters, NO_FILTERS);
    $('#search').value = '';
    syncHeaderFilters(filters);
    buildFilters();
    syncToggles();
    reload();
  });
  let timer = null;
  $('#search').addEventListener('input', (event) => {
    clearTimeout(timer);
    timer = setTimeout(() => { filters.q = event.target.value.trim(); reload(); }, 300);
  });
  $('#search-phone').addEventListener('click', () => $('#search').focus());
  initHeaderFilters(filters, reload);
  onLangChange(() => { buildFilters(); syncHeaderFilters(filters); render(); });
}

function select(el, options, value, allLabel) {
  el.replaceChildren(h('option', { value: '', text: allLabel }),
    ...options.map(([id, label]) => h('option', { value: id, text: label })));
  el.value = value;
  el.onchange = () => { filters[el.dataset.filter] = el.value; reload(); };
}

function buildFilters() {
  const type = $('#filter-type');
  type.dataset.filter = 'type';
  select(type, TYPES.map((v) => [v, v]), filters.type, t('filter.all'));
  const branch = $('#filter-branch');
  branch.dataset.filter = 'branch';
  select(branch, [...ctx.branches].map(([id, b]) => [id, b.name]), filters.branch, t('filter.allF'));
  const topic = $('#filter-topic');
  topic.dataset.filter = 'topic';
  select(topic, [...ctx.topics].map(([id, tp]) => [id, tp.title]), filters.topic, t('filter.all'));
  const box = $('#filter-status');
  const list = $('.multi-list', box);
  list.replaceChildren(...STATUSES.map((status) => h('label', {},
    h('input', { type: 'checkbox', value: status, checked: filters.status.includes(status),
      onchange: (event) => {
        filters.status = event.target.checked ? [...filters.status, status] : filters.status.filter((s) => s !== status);
        statusSummary();
        reload();
      } }),
    h('span', { class: statusClass(status), text: status }))));
  statusSummary();
}

function statusSummary() {
  $('#filter-status summary').textContent = filters.status.length ? filters.status.join(', ') : t('filter.all');
}

function syncToggles() {
  $('#unread-toggle').setAttribute('aria-pressed', String(filters.unread));
  $('#sort-toggle').setAttribute('aria-pressed', String(filters.sort === 'last_message'));
}

export async function reload() { await load(true); }

async function load(fresh) {
  const mine = fresh ? ++generation : generation;
  const params = { ...filters, ...openedParams(filters), limit: PAGE, cursor: fresh ? null : cursor, sort: filters.sort };
  try {
    const page = await api('/api/tickets', { params });
    if (mine !== generation) return; // a newer query replaced this one
    items = fresh ? page.items : [...items, ...page.items];
    cursor = page.next_cursor;
    if (fresh) { // a later page repeats the first page's count; ours has followed the live changes since
      total = page.total;
      capped = page.total_capped;
    }
    render();
  } catch (error) {
    if (error.status !== 401) toast(error.message);
  }
}

function order(a, b) {
  if (filters.sort === 'last_message') {
    const diff = Date.parse(b.last_message_at) - Date.parse(a.last_message_at);
    if (diff) return diff;
  }
  return b.number - a.number;
}

function matches(item) {
  if (filters.status.length && !filters.status.includes(item.status)) return false;
  if (filters.type && item.type !== filters.type) return false;
  if (filters.branch && item.branch !== filters.branch) return false;
  if (filters.topic && item.topic !== filters.topic) return false;
  if (filters.unread && !(item.unread > 0)) return false;
  if (filters.name && !nameMatches(item.name, filters.name)) return false;
  if ((filters.from || filters.to) && !openedMatches(item.opened_at, filters)) return false;
  if (filters.q) {
    const digits = filters.q.replace(/\D/g, '');
    const phone = item.phone || '';
    if (!digits || !(String(item.number) === digits || phone.startsWith(digits) || (digits.length >= 4 && phone.endsWith(digits)))) return false;
  }
  return true;
}

// Live: rows that changed are updated in place; new matching ones appear where they sort.
export function applyTickets(changed) {
  let dirty = false;
  for (const item of changed) {
    detailCache.delete(item.number);
    const index = items.findIndex((i) => i.number === item.number);
    const keep = matches(item) || (ctx.openNumber() === item.number && index >= 0);
    if (index >= 0) {
      if (keep) items[index] = item; else { items.splice(index, 1); total = Math.max(0, total - 1); }
      dirty = true;
    } else if (keep) {
      const last = items[items.length - 1];
      if (!cursor || !last || order(item, last) < 0) {
        items.push(item);
        item.fresh = true;
        total += 1;
        dirty = true;
      }
    }
  }
  if (dirty) {
    items.sort(order);
    render();
  }
  for (const number of expanded) if (changed.some((i) => i.number === number)) loadDetails(number);
}

export function ticketByNumber(number) { return items.find((i) => i.number === number) || null; }

function render() {
  const body = $('#board-body');
  const rows = [];
  for (const item of items) {
    rows.push(row(item));
    if (expanded.has(item.number)) rows.push(detailsRow(item));
    delete item.fresh;
  }
  body.replaceChildren(...rows);
  $('#board-empty').hidden = items.length > 0;
  $('#load-more').hidden = !cursor;
  $('#board-count').textContent = t(capped ? 'board.countMore' : 'board.count', { shown: items.length, total });
}

function row(item) {
  const open = expanded.has(item.number);
  const branch = ctx.branches.get(item.branch);
  const topic = ctx.topics.get(item.topic);
  return h('tr', { class: `row${item.unread > 0 ? ' unread-row' : ''}${item.fresh ? ' fresh' : ''}`,
    dataset: { number: item.number }, 'aria-expanded': String(open) },
  h('td', {}, h('button', { type: 'button', class: 'plus', 'aria-label': t(open ? 'row.collapse' : 'row.expand'),
    text: open ? '−' : '+', onclick: () => toggle(item.number) })),
  h('td', { class: 'col-number', text: item.number }),
  h('td', { text: formatDateTime(item.opened_at) }),
  h('td', { class: 'col-name', text: item.name || '—' }),
  h('td', {}, h('button', { type: 'button', class: 'phone-link', title: t('row.openChat'), text: item.phone || item.customer_key,
    onclick: () => ctx.openChat(item) }),
  item.unread > 0 ? h('span', { class: 'unread-pill', title: t('row.unread', { n: item.unread }), text: item.unread }) : null),
  h('td', { text: item.type }),
  h('td', {}, statusCell(item)),
  h('td', { text: branch ? branch.name : (item.branch || '—') }),
  h('td', { text: topic ? topic.title : (item.topic || '—') }));
}

function statusCell(item) {
  const choices = TRANSITIONS[item.status] || [];
  const cell = h('div', { class: 'status-cell' }, h('span', { class: statusClass(item.status), text: item.status }));
  if (choices.length) {
    const picker = h('select', { class: 'status-change', 'aria-label': t('row.change') },
      h('option', { value: '', text: t('row.change') }), ...choices.map((s) => h('option', { value: s, text: s })));
    picker.addEventListener('change', () => changeStatus(item, picker));
    cell.append(picker);
  }
  return cell;
}

export async function changeStatus(item, picker) {
  const status = picker.value;
  if (!status) return;
  picker.disabled = true;
  try {
    const detail = await api(`/api/tickets/${item.number}/status`, { method: 'POST', body: { status } });
    detailCache.set(item.number, detail);
    applyTickets([detail]);
    ctx.ticketChanged(detail);
  } catch (error) {
    toast(error.message);
    picker.value = '';
  } finally {
    picker.disabled = false;
  }
}

function toggle(number) {
  if (expanded.has(number)) expanded.delete(number); else { expanded.add(number); loadDetails(number); }
  render();
}

async function loadDetails(number) {
  try {
    detailCache.set(number, await api(`/api/tickets/${number}`));
    render();
  } catch (error) {
    if (error.status !== 401) toast(error.message);
  }
}

function detailsRow(item) {
  const detail = detailCache.get(item.number);
  return h('tr', { class: 'details-row', dataset: { details: item.number } },
    h('td', { colspan: 9 }, detail ? renderDetails(detail, ctx) : h('p', { class: 'muted', text: t('details.loading') })));
}
