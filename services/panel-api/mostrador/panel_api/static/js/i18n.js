// Labels: Spanish by default (the manual's words), English selectable and remembered.
// Ticket statuses and types are shown exactly as the manual writes them, in both languages.

const STORE_KEY = 'mostrador.lang';

const ES = {
  'login.subtitle': 'Panel de pedidos y chats de WhatsApp', 'login.username': 'Usuario',
  'login.password': 'Contraseña', 'login.submit': 'Ingresar', 'login.failed': 'Usuario o contraseña incorrectos',
  'login.locked': 'Demasiados intentos fallidos. Probá de nuevo en unos minutos.',
  'nav.orders': 'Pedidos', 'nav.users': 'Usuarios', 'nav.password': 'Cambiar contraseña', 'nav.logout': 'Salir',
  'lang.other': 'English',
  'board.title': 'Pedidos', 'board.unread': 'Sin leer', 'board.unreadHint': 'Mostrar solo los que tienen mensajes sin leer',
  'board.sortLast': 'Ordenar por último mensaje', 'board.clear': 'Quitar filtros', 'board.live': 'En vivo',
  'board.empty': 'No hay pedidos con estos filtros.', 'board.more': 'Cargar más',
  'board.count': 'Mostrando {shown} de {total}', 'board.countMore': 'Mostrando {shown} de más de {total}',
  'col.number': 'Nº', 'col.date': 'Fecha y hora', 'col.name': 'Nombre', 'col.phone': 'Celular', 'col.type': 'Tipo',
  'col.status': 'Estado', 'col.branch': 'Sucursal', 'col.topic': 'Tema',
  'filter.search': 'Nº o celular', 'filter.all': 'Todos', 'filter.allF': 'Todas', 'filter.none': 'Sin asignar',
  'filter.name': 'Nombre', 'filter.nameHint': 'Filtrar por nombre (el comienzo)', 'filter.anyDate': 'Todas',
  'filter.from': 'Desde', 'filter.to': 'Hasta', 'filter.since': 'Desde {date}', 'filter.until': 'Hasta {date}',
  'row.expand': 'Ver detalles', 'row.collapse': 'Ocultar detalles', 'row.openChat': 'Abrir chat',
  'row.change': 'Cambiar a…', 'row.unread': '{n} sin leer',
  'details.delivery': 'Entrega', 'details.address': 'Domicilio', 'details.location': 'Ubicación',
  'details.map': 'Ver en el mapa', 'details.order': 'Pedido', 'details.name': 'Nombre', 'details.notes': 'Notas',
  'details.contact': 'Contacto', 'details.missing': 'Faltan datos', 'details.history': 'Historial de estados',
  'details.by': 'por', 'details.delivery.delivery': 'Envío a domicilio', 'details.delivery.pickup': 'Retiro en sucursal',
  'details.loading': 'Cargando…', 'details.created': 'Recibido',
  'actor.bot': 'Bot', 'actor.system': 'Sistema', 'actor.customer': 'Cliente', 'actor.operator': 'Operador',
  'actor.template': 'Plantilla',
  'chat.close': 'Cerrar chat', 'chat.placeholder': 'Escribí un mensaje', 'chat.send': 'Enviar',
  'chat.resume': 'Retomar Contacto', 'chat.resumeConfirm': '¿Enviar el mensaje predefinido para retomar el contacto con {name}?',
  'chat.resumeSent': 'Mensaje predefinido enviado', 'chat.retry': 'Reintentar',
  'chat.windowLeft': 'Ventana de WhatsApp abierta: quedan {left}',
  'chat.needsInProcess': 'Para escribir, cambiá el estado a EN PROCESO.',
  'chat.closedTicket': 'Ticket cerrado ({status}): si el cliente vuelve a escribir, se abre un ticket nuevo.',
  'chat.windowClosed': 'Pasaron 24 h desde el último mensaje del cliente: WhatsApp no permite escribirle libremente. Usá «Retomar Contacto».',
  'chat.noWindow': 'El cliente todavía no escribió: no hay ventana de chat abierta.',
  'chat.failed': 'No enviado', 'chat.location': 'Ubicación', 'chat.template': 'Plantilla', 'chat.empty': 'Sin mensajes todavía.',
  'chat.chose': 'Eligió', 'chat.image': 'Imagen',
  'users.title': 'Usuarios', 'users.new': 'Nuevo usuario', 'users.username': 'Usuario', 'users.displayName': 'Nombre',
  'users.password': 'Contraseña (mín. 12)', 'users.role': 'Rol', 'users.branches': 'Sucursales',
  'users.allBranches': 'Todas', 'users.branchesHint': 'Sucursales (sin marcar: todas)', 'users.create': 'Crear', 'users.created': 'Usuario creado',
  'users.reset': 'Restablecer contraseña', 'users.resetPrompt': 'Nueva contraseña para {user} (mín. 12):',
  'users.resetDone': 'Contraseña restablecida; sus sesiones se cerraron',
  'users.deactivate': 'Desactivar', 'users.activate': 'Activar', 'users.revoke': 'Cerrar sesiones',
  'users.revoked': 'Sesiones cerradas: {n}', 'users.active': 'Activo', 'users.role.admin': 'Administrador',
  'users.role.operator': 'Operador', 'users.saveBranches': 'Guardar sucursales',
  'password.title': 'Cambiar contraseña', 'password.current': 'Contraseña actual', 'password.new': 'Contraseña nueva (mín. 12)',
  'password.done': 'Contraseña cambiada',
  'common.cancel': 'Cancelar', 'common.confirm': 'Confirmar', 'common.save': 'Guardar', 'common.yes': 'Sí',
  'error.network': 'Sin conexión con el servidor', 'error.timeout': 'El servicio no respondió a tiempo; probá de nuevo.',
};

const EN = {
  'login.subtitle': 'WhatsApp orders and chats panel', 'login.username': 'Username', 'login.password': 'Password',
  'login.submit': 'Log in', 'login.failed': 'Wrong username or password',
  'login.locked': 'Too many failed attempts. Try again in a few minutes.',
  'nav.orders': 'Orders', 'nav.users': 'Users', 'nav.password': 'Change password', 'nav.logout': 'Log out',
  'lang.other': 'Español',
  'board.title': 'Orders', 'board.unread': 'Unread', 'board.unreadHint': 'Show only tickets with unread messages',
  'board.sortLast': 'Sort by last message', 'board.clear': 'Clear filters', 'board.live': 'Live',
  'board.empty': 'No tickets match these filters.', 'board.more': 'Load more',
  'board.count': 'Showing {shown} of {total}', 'board.countMore': 'Showing {shown} of more than {total}',
  'col.number': 'No.', 'col.date': 'Date and time', 'col.name': 'Name', 'col.phone': 'Phone', 'col.type': 'Type',
  'col.status': 'Status', 'col.branch': 'Branch', 'col.topic': 'Topic',
  'filter.search': 'No. or phone', 'filter.all': 'All', 'filter.allF': 'All', 'filter.none': 'Unassigned',
  'filter.name': 'Name', 'filter.nameHint': 'Filter by name (its start)', 'filter.anyDate': 'Any',
  'filter.from': 'From', 'filter.to': 'To', 'filter.since': 'From {date}', 'filter.until': 'Until {date}',
  'row.expand': 'Show details', 'row.collapse': 'Hide details', 'row.openChat': 'Open chat',
  'row.change': 'Change to…', 'row.unread': '{n} unread',
  'details.delivery': 'Delivery', 'details.address': 'Address', 'details.location': 'Location',
  'details.map': 'Open map', 'details.order': 'Order', 'details.name': 'Name', 'details.notes': 'Notes',
  'details.contact': 'Contact', 'details.missing': 'Missing', 'details.history': 'Status history',
  'details.by': 'by', 'details.delivery.delivery': 'Home delivery', 'details.delivery.pickup': 'Pick-up at branch',
  'details.loading': 'Loading…', 'details.created': 'Received',
  'actor.bot': 'Bot', 'actor.system': 'System', 'actor.customer': 'Customer', 'actor.operator': 'Operator',
  'actor.template': 'Template',
  'chat.close': 'Close chat', 'chat.placeholder': 'Type a message', 'chat.send': 'Send',
  'chat.resume': 'Retomar Contacto', 'chat.resumeConfirm': 'Send the predefined message to resume contact with {name}?',
  'chat.resumeSent': 'Predefined message sent', 'chat.retry': 'Retry',
  'chat.windowLeft': 'WhatsApp window open: {left} left',
  'chat.needsInProcess': 'To write, change the status to EN PROCESO.',
  'chat.closedTicket': 'Ticket closed ({status}): if the customer writes again, a new ticket opens.',
  'chat.windowClosed': '24 h have passed since the customer\'s last message: WhatsApp does not allow free text. Use «Retomar Contacto».',
  'chat.noWindow': 'The customer has not written yet: there is no open chat window.',
  'chat.failed': 'Not sent', 'chat.location': 'Location', 'chat.template': 'Template', 'chat.empty': 'No messages yet.',
  'chat.chose': 'Chose', 'chat.image': 'Image',
  'users.title': 'Users', 'users.new': 'New user', 'users.username': 'Username', 'users.displayName': 'Name',
  'users.password': 'Password (min. 12)', 'users.role': 'Role', 'users.branches': 'Branches',
  'users.allBranches': 'All', 'users.branchesHint': 'Branches (none ticked: all)', 'users.create': 'Create', 'users.created': 'User created',
  'users.reset': 'Reset password', 'users.resetPrompt': 'New password for {user} (min. 12):',
  'users.resetDone': 'Password reset; their sessions were closed',
  'users.deactivate': 'Deactivate', 'users.activate': 'Activate', 'users.revoke': 'Close sessions',
  'users.revoked': 'Sessions closed: {n}', 'users.active': 'Active', 'users.role.admin': 'Administrator',
  'users.role.operator': 'Operator', 'users.saveBranches': 'Save branches',
  'password.title': 'Change password', 'password.current': 'Current password', 'password.new': 'New password (min. 12)',
  'password.done': 'Password changed',
  'common.cancel': 'Cancel', 'common.confirm': 'Confirm', 'common.save': 'Save', 'common.yes': 'Yes',
  'error.network': 'No connection to the server', 'error.timeout': 'The service did not answer in time; try again.',
};

const TABLES = { es: ES, en: EN };
let lang = localStorage.getItem(STORE_KEY) === 'en' ? 'en' : 'es';
const listeners = [];

export function currentLang() { return lang; }
export function locale() { return lang === 'es' ? 'es-AR' : 'en-GB'; }

export function t(key, vars = {}) {
  const text = TABLES[lang][key] ?? ES[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll('[data-lang-toggle]')) el.textContent = t('lang.other');
}

export function toggleLang() {
  lang = lang === 'es' ? 'en' : 'es';
  localStorage.setItem(STORE_KEY, lang);
  applyI18n();
  for (const listener of listeners) listener(lang);
}

export function onLangChange(listener) { listeners.push(listener); }

export function formatDateTime(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'short', timeStyle: 'short' }).format(new Date(iso));
}

export function formatDate(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(new Date(iso));
}

export function formatTime(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}

export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return `${hours}:${pad(minutes)}:${pad(seconds)}`;
}
