// Building the page without ever parsing a string as HTML: text always goes in as text nodes
// (customer messages may contain "<script>"; they must show, never run).

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

// Links we render come from the server (map URLs) or the bot configuration; only http(s) and our
// own paths are allowed, so a "javascript:" URL can never become clickable.
export function safeUrl(url) {
  if (typeof url !== 'string') return null;
  if (url.startsWith('/api/media/')) return url;
  try {
    const parsed = new URL(url, location.origin);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch { return null; }
}

export function toast(message, kind = 'error') {
  const box = $('#toasts');
  const item = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status', text: message });
  box.append(item);
  setTimeout(() => item.remove(), 6000);
}

// A confirmation in our own <dialog> (window.confirm would block the page and cannot be styled).
export function confirmDialog(text, okLabel) {
  const dialog = $('#confirm-dialog');
  $('#confirm-text', dialog).textContent = text;
  if (okLabel) $('#confirm-ok', dialog).textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
  });
}

export function statusClass(status) {
  return `status-badge st-${String(status).replace(/\s+/g, '-')}`;
}

// WhatsApp's own light formatting (*bold*, _italic_, ~strike~) as elements whose content is text:
// the bot's texts use it, and a customer's "<b>" stays the four characters it is.
const MARKS = /\*([^*\n]+)\*|_([^_\n]+)_|~([^~\n]+)~/g;

export function formatted(text) {
  const nodes = [];
  let last = 0;
  for (const match of String(text).matchAll(MARKS)) {
    if (match.index > last) nodes.push(text.slice(last, match.index));
    const [tag, inner] = match[1] ? ['strong', match[1]] : match[2] ? ['em', match[2]] : ['s', match[3]];
    nodes.push(h(tag, { text: inner }));
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}
