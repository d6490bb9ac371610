// The Fecha y hora and Nombre header filters: what the API is sent (from/to as instants of the
// operator's own days) and the same matching for rows that arrive live (GET /api/tickets ?name=).

import { $ } from './dom.js';
import { formatDate, t } from './i18n.js';

// Words the way the server reads them: lower case, LIKE's wildcards and escape as spaces.
export function nameWords(text) {
  return (text || '').replace(/[%_\\]/g, ' ').toLowerCase().split(/\s+/).filter(Boolean);
}

// The name starts with the first word; each next word starts a later word of it, in order.
export function nameMatches(name, text) {
  const words = nameWords(text);
  if (!words.length) return true;
  const full = (name || '').toLowerCase();
  if (!full.startsWith(words[0])) return false;
  let at = words[0].length;
  for (const word of words.slice(1)) {
    const found = full.indexOf(` ${word}`, at);
    if (found < 0) return false;
    at = found + 1 + word.length;
  }
  return true;
}

// A date input's "2026-09-15" is a day on the operator's clock: from its first to its last millisecond.
function dayStart(day) { return day ? new Date(`${day}T00:00:00`) : null; }
function dayEnd(day) {
  if (!day) return null;
  const next = dayStart(day);
  next.setDate(next.getDate() + 1);
  return new Date(next.getTime() - 1);
}

export function openedParams(filters) {
  const from = dayStart(filters.from);
  const to = dayEnd(filters.to);
  return { from: from ? from.toISOString() : '', to: to ? to.toISOString() : '' };
}

export function openedMatches(openedAt, filters) {
  const at = Date.parse(openedAt);
  const from = dayStart(filters.from);
  const to = dayEnd(filters.to);
  return !((from && at < from.getTime()) || (to && at > to.getTime()));
}

export function dateSummary(filters) {
  const from = filters.from && formatDate(dayStart(filters.from));
  const to = filters.to && formatDate(dayStart(filters.to));
  if (from && to) return from === to ? from : `${from} – ${to}`;
  if (from) return t('filter.since', { date: from });
  if (to) return t('filter.until', { date: to });
  return t('filter.anyDate');
}

// Wires the inputs; ``changed`` reloads the board.
export function initHeaderFilters(filters, changed) {
  const from = $('#filter-from');
  const to = $('#filter-to');
  const summary = $('#filter-date summary');
  const onDate = () => {
    filters.from = from.value;
    filters.to = to.value;
    to.min = from.value; // a range that ends before it starts cannot be picked
    from.max = to.value;
    summary.textContent = dateSummary(filters);
    changed();
  };
  from.addEventListener('change', onDate);
  to.addEventListener('change', onDate);
  let timer = null;
  $('#filter-name').addEventListener('input', (event) => {
    clearTimeout(timer);
    timer = setTimeout(() => { filters.name = event.target.value.trim(); changed(); }, 300);
  });
}

export function syncHeaderFilters(filters) {
  $('#filter-from').value = filters.from;
  $('#filter-to').value = filters.to;
  $('#filter-from').max = filters.to;
  $('#filter-to').min = filters.from;
  $('#filter-name').value = filters.name;
  $('#filter-date summary').textContent = dateSummary(filters);
}
