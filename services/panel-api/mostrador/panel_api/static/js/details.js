// A ticket's details under its row (+): contact, delivery, address and map pin, order, notes,
// the fields still missing while INCOMPLETO (highlighted), and the status history with who/when.

import { h, safeUrl, statusClass } from './dom.js';
import { formatDateTime, t } from './i18n.js';

const FIELDS = [
  ['delivery', 'details.delivery'], ['address', 'details.address'], ['location', 'details.location'],
  ['order', 'details.order'], ['name', 'details.name'], ['notes', 'details.notes'],
];

export function actorLabel(actor) {
  if (!actor) return '';
  if (actor.kind === 'operator') return actor.name || actor.id || t('actor.operator');
  return t(`actor.${actor.kind}`);
}

function value(field, details) {
  const v = details[field];
  if (field === 'delivery' && v) return t(`details.delivery.${v}`);
  if (field === 'location' && v) {
    const url = safeUrl(v.map_url);
    const label = [v.name, v.address].filter(Boolean).join(' · ');
    return h('span', {}, label ? `${label} ` : '',
      url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'map-link', text: `📍 ${t('details.map')}` }) : null);
  }
  return v || null;
}

export function renderDetails(detail, ctx) {
  const details = detail.details || {};
  const missing = detail.status === 'INCOMPLETO' ? detail.missing || [] : [];
  const pairs = [
    [t('details.contact'), `${detail.name || '—'} · ${detail.phone || detail.customer_key}`, false],
    [t('details.created'), formatDateTime(detail.opened_at), false],
  ];
  for (const [field, key] of FIELDS) {
    const shown = value(field, details);
    const lacking = missing.includes(field) || (field === 'address' && missing.includes('location'));
    if (shown || lacking) pairs.push([t(key), shown || '—', lacking]);
  }
  for (const [key, v] of Object.entries(details.extra || {})) pairs.push([key, v, missing.includes(key)]);
  const list = h('dl', {}, pairs.flatMap(([label, v, lacking]) => [
    h('dt', { class: lacking ? 'missing' : null, text: label }),
    h('dd', { class: lacking ? 'missing' : null }, v),
  ]));
  const lacking = missing.length ? h('p', { class: 'missing missing-list' },
    `${t('details.missing')}: `, missing.map((f) => labelFor(f, ctx)).join(', ')) : null;
  const history = h('ol', { class: 'history' }, (detail.history || []).map((change) => h('li', {},
    change.from_status ? h('span', { class: statusClass(change.from_status), text: change.from_status }) : null,
    change.from_status ? ' → ' : '',
    h('span', { class: statusClass(change.to_status), text: change.to_status }),
    ` · ${formatDateTime(change.at)} · ${t('details.by')} ${actorLabel(change.by)}`)));
  return h('div', { class: 'details' },
    h('div', {}, list, lacking),
    h('div', {}, h('strong', { text: t('details.history') }), history));
}

function labelFor(field, ctx) {
  const known = FIELDS.find(([id]) => id === field);
  if (known) return t(known[1]);
  if (field === 'branch') return t('col.branch');
  if (field === 'topic') return t('col.topic');
  return ctx && ctx.fieldLabel ? ctx.fieldLabel(field) : field;
}
