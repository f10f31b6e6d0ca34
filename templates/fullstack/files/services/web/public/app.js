// Front end: talks to the backend through this server's /api proxy.
const list = document.getElementById('items');
const form = document.getElementById('new-item');
const nameInput = document.getElementById('name');
const statusLine = document.getElementById('status');

async function api(method, path, body) {
  const res = await fetch(`/api${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} /api${path}: HTTP ${res.status}`);
  return res.status === 204 ? null : res.json();
}

function render(items) {
  list.replaceChildren(...items.map((item) => {
    const li = document.createElement('li');
    li.className = item.done ? 'done' : '';

    const toggle = document.createElement('input');
    toggle.type = 'checkbox';
    toggle.checked = item.done;
    toggle.addEventListener('change', () => run(() => api('PATCH', `/items/${item.id}`, { done: toggle.checked })));

    const label = document.createElement('span');
    label.textContent = item.name;

    const remove = document.createElement('button');
    remove.className = 'delete';
    remove.textContent = 'Delete';
    remove.addEventListener('click', () => run(() => api('DELETE', `/items/${item.id}`)));

    li.append(toggle, label, remove);
    return li;
  }));
  statusLine.textContent = items.length ? '' : 'Nothing here yet.';
}

async function run(action) {
  try {
    if (action) await action();
    render(await api('GET', '/items'));
  } catch (err) {
    statusLine.textContent = `Could not reach the backend: ${err.message}`;
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (!name) return;
  nameInput.value = '';
  run(() => api('POST', '/items', { name }));
});

run();
