// Administrators' page: create operators (optionally limited to branches), change branches,
// reset passwords, deactivate, close sessions.

import { api } from './api.js';
import { $, h, toast } from './dom.js';
import { t } from './i18n.js';

let ctx = null;

export function initUsers(context) { ctx = context; }

export async function showUsers() {
  const area = $('#users-view');
  try {
    const users = await api('/api/admin/users');
    area.replaceChildren(h('h2', { text: t('users.title') }), createForm(), table(users));
  } catch (error) {
    toast(error.message);
  }
}

function branchChecks(selected, name) {
  return h('div', { class: 'branch-checks' }, [...ctx.branches].map(([id, branch]) => h('label', {},
    h('input', { type: 'checkbox', name, value: id, checked: (selected || []).includes(id) }), branch.name)));
}

function createForm() {
  const form = h('form', { class: 'user-form', id: 'user-create' },
    h('label', {}, t('users.username'), h('input', { name: 'username', required: true, pattern: '[a-z0-9][a-z0-9._\\-]{1,39}', maxlength: 40 })),
    h('label', {}, t('users.displayName'), h('input', { name: 'display_name', required: true, maxlength: 80 })),
    h('label', {}, t('users.password'), h('input', { name: 'password', type: 'password', required: true, minlength: 12, maxlength: 128, autocomplete: 'new-password' })),
    h('label', {}, t('users.role'), h('select', { name: 'role' },
      h('option', { value: 'operator', text: t('users.role.operator') }), h('option', { value: 'admin', text: t('users.role.admin') }))),
    h('fieldset', {}, h('legend', { text: t('users.branchesHint') }), branchChecks([], 'branches')),
    h('button', { type: 'submit', class: 'primary', text: t('users.create') }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const branches = data.getAll('branches');
    try {
      await api('/api/admin/users', { method: 'POST', body: {
        username: data.get('username').trim().toLowerCase(), display_name: data.get('display_name').trim(),
        password: data.get('password'), role: data.get('role'), branches: branches.length ? branches : null } });
      toast(t('users.created'), 'info');
      showUsers();
    } catch (error) {
      toast(error.message);
    }
  });
  return h('section', {}, h('h3', { text: t('users.new') }), form);
}

async function act(path, body, done) {
  try {
    const result = await api(path, { method: body === undefined ? 'POST' : body.method || 'POST', body: body?.payload });
    if (done) toast(done(result), 'info');
    showUsers();
  } catch (error) {
    toast(error.message);
  }
}

function table(users) {
  return h('table', { class: 'users-table' },
    h('thead', {}, h('tr', {}, [t('users.username'), t('users.displayName'), t('users.role'), t('users.branches'), t('users.active'), '']
      .map((label) => h('th', { text: label })))),
    h('tbody', {}, users.map((user) => {
      const base = `/api/admin/users/${encodeURIComponent(user.username)}`;
      const checks = branchChecks(user.branches, `b-${user.username}`);
      return h('tr', { class: user.active ? '' : 'inactive', dataset: { user: user.username } },
        h('td', { text: user.username }), h('td', { text: user.display_name }),
        h('td', { text: t(`users.role.${user.role}`) }),
        h('td', {}, user.role === 'admin' ? t('users.allBranches') : checks),
        h('td', { text: user.active ? '✓' : '—' }),
        h('td', { class: 'actions' },
          user.role === 'admin' ? null : h('button', { type: 'button', text: t('users.saveBranches'), onclick: () => {
            const chosen = [...checks.querySelectorAll('input:checked')].map((i) => i.value);
            act(base, { method: 'PATCH', payload: chosen.length ? { branches: chosen } : { unrestricted: true } });
          } }),
          h('button', { type: 'button', text: t('users.reset'), onclick: () => resetPassword(user, base) }),
          h('button', { type: 'button', text: t('users.revoke'),
            onclick: () => act(`${base}/revoke-sessions`, undefined, (r) => t('users.revoked', { n: r.revoked })) }),
          h('button', { type: 'button', text: user.active ? t('users.deactivate') : t('users.activate'),
            onclick: () => act(base, { method: 'PATCH', payload: { active: !user.active } }) })));
    })));
}

function resetPassword(user, base) {
  const dialog = h('dialog', { class: 'dialog' });
  const input = h('input', { type: 'password', minlength: 12, maxlength: 128, required: true, autocomplete: 'new-password' });
  const form = h('form', {}, h('label', {}, t('users.resetPrompt', { user: user.username }), input),
    h('menu', {}, h('button', { type: 'button', text: t('common.cancel'), onclick: () => dialog.close() }),
      h('button', { type: 'submit', class: 'primary', text: t('common.save') })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    dialog.close();
    act(`${base}/reset-password`, { payload: { password: input.value } }, () => t('users.resetDone'));
  });
  dialog.append(form);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
