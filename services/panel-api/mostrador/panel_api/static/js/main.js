// Start-up: who am I (or the login page), branches and topics, the board, the chat, the live stream.

import { api, setCsrf, whenUnauthorized } from './api.js';
import { applyTickets, initBoard, reload } from './board.js';
import { initChat, onMessages, onTickets, openChat, openNumber } from './chat.js';
import { $, $$, toast } from './dom.js';
import { applyI18n, t, toggleLang } from './i18n.js';
import { initUsers, showUsers } from './users.js';

const ctx = {
  branches: new Map(), topics: new Map(), me: null,
  openChat, openNumber, ticketChanged: (detail) => onTickets([detail]),
};
let stream = null;

function showLogin() {
  if (stream) { stream.close(); stream = null; }
  $('#app-view').hidden = true;
  $('#login-view').hidden = false;
  $('#login-username').focus();
}

async function login(event) {
  event.preventDefault();
  const error = $('#login-error');
  error.hidden = true;
  try {
    const result = await api('/api/auth/login', { method: 'POST',
      body: { username: $('#login-username').value.trim(), password: $('#login-password').value } });
    $('#login-password').value = '';
    setCsrf(result.csrf_token); // the bearer token in the answer is for API clients; the UI uses its cookie
    await start(result.user);
  } catch (failure) {
    error.textContent = failure.status === 429 ? t('login.locked') : failure.status === 401 ? t('login.failed') : failure.message;
    error.hidden = false;
  }
}

function setUnread(count) {
  $('#unread-count').textContent = String(count);
  $('#unread-toggle').classList.toggle('has-unread', count > 0);
}

function connect() {
  if (stream) stream.close();
  const live = $('#live-state');
  stream = new EventSource('/api/stream');
  stream.addEventListener('open', () => { live.dataset.state = 'on'; });
  stream.addEventListener('ready', (event) => setUnread(JSON.parse(event.data).unread));
  stream.addEventListener('changes', (event) => {
    const change = JSON.parse(event.data);
    applyTickets(change.tickets);
    onTickets(change.tickets);
    onMessages(change.messages);
    setUnread(change.unread);
  });
  stream.addEventListener('reset', () => reload());
  stream.addEventListener('logout', () => showLogin()); // the session was revoked or expired
  // EventSource reconnects by itself; if the session is gone, the check sends us to the login page.
  stream.addEventListener('error', () => { live.dataset.state = 'off'; api('/api/auth/me').catch(() => {}); });
}

function route() {
  const users = location.hash === '#usuarios' && ctx.me && ctx.me.role === 'admin';
  $('#board-view').hidden = users;
  $('#users-view').hidden = !users;
  for (const link of $$('.nav-link')) link.classList.toggle('active', link.dataset.view === (users ? 'users' : 'board'));
  if (users) showUsers();
}

async function start(user) {
  ctx.me = user;
  const [branches, topics, unread] = await Promise.all([api('/api/branches'), api('/api/topics'), api('/api/unread')]);
  ctx.branches = new Map(branches.map((b) => [b.id, b]));
  ctx.topics = new Map(topics.map((tp) => [tp.id, tp]));
  $('#login-view').hidden = true;
  $('#app-view').hidden = false;
  $('#me-name').textContent = user.display_name;
  for (const el of $$('[data-admin-only]')) el.hidden = user.role !== 'admin';
  setUnread(unread.tickets);
  if (!start.done) {
    initBoard(ctx);
    initChat({ ticketChanged: () => {} });
    initUsers(ctx);
    start.done = true;
  }
  route();
  await reload();
  connect();
}

function passwordDialog() {
  const dialog = $('#password-dialog');
  const form = $('#password-form');
  const error = $('.form-error', form);
  form.reset();
  error.hidden = true;
  dialog.showModal();
  $('[data-close]', form).onclick = () => dialog.close();
  form.onsubmit = async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      await api('/api/auth/password', { method: 'POST', body: { current: data.get('current'), new: data.get('new') } });
      dialog.close();
      toast(t('password.done'), 'info');
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  };
}

async function boot() {
  applyI18n();
  whenUnauthorized(showLogin);
  $('#login-form').addEventListener('submit', login);
  for (const el of $$('[data-lang-toggle]')) el.addEventListener('click', toggleLang);
  $('#logout').addEventListener('click', async () => {
    try { await api('/api/auth/logout', { method: 'POST' }); } finally { location.hash = ''; location.reload(); }
  });
  $('#password-open').addEventListener('click', passwordDialog);
  window.addEventListener('hashchange', route);
  try {
    const me = await api('/api/auth/me');
    setCsrf(me.csrf_token);
    await start(me.user);
  } catch (error) {
    if (error.status !== 401) toast(error.status === 0 ? t('error.network') : error.message);
    showLogin();
  }
}

boot();
