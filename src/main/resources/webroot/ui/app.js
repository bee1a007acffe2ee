// zlayer-worker console: the fleet table and a node page over the controller's /v1 API, with
// live updates from GET /v1/events (server-sent events read through fetch, so the admin token
// travels in the Authorization header, never in a URL). The token arrives in the URL fragment
// (#token=...), is kept in sessionStorage and removed from the address bar at once.
'use strict';

const TOKEN_KEY = 'zlayer.admin_token';
const nodes = new Map(); // node_id -> view, as GET /v1/nodes gives it
let cluster = '';

function takeToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + '#/');
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const token = takeToken();

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { 'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error(json.error || (res.status + ' ' + res.statusText));
  }
  return json;
}

function showError(e) {
  const p = document.getElementById('error');
  p.textContent = e ? String(e.message || e) : '';
  p.hidden = !e;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
}

function ago(iso) {
  if (!iso) return '-';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  return s < 1 ? 'now' : s < 120 ? s + ' s ago' : Math.round(s / 60) + ' min ago';
}

function day(iso) {
  return iso ? iso.slice(0, 10) : '-';
}

function labels(view) {
  return Object.entries(view.labels || {}).map(([k, v]) => el('span', { class: 'label' }, k + '=' + v));
}

function replicas(view) {
  const running = (view.containers || []).filter(c => c.state === 'running').length;
  return (view.containers || []).length ? running + '/' + view.containers.length : '-';
}

async function act(id, action, body, question) {
  if (!confirm(question)) return;
  try {
    await api('POST', '/v1/nodes/' + id + '/' + action, body || {});
    showError(null);
    await refreshOne(id);
  } catch (e) {
    showError(e);
  }
}

function actions(view) {
  const id = view.node_id;
  const out = [];
  if (view.state === 'ready' || view.state === 'unreachable') {
    out.push(el('button', { 'data-action': 'drain', onclick: () => act(id, 'drain', { deadline_secs: 600 },
      'Drain node ' + id + '? It takes no new work and its processes stop within 10 minutes.') }, 'drain'));
  }
  if (view.state === 'draining') {
    out.push(el('button', { 'data-action': 'undrain', onclick: () => act(id, 'undrain', {},
      'Make node ' + id + ' eligible for work again?') }, 'undrain'));
  }
  if (view.state !== 'quarantined' && view.state !== 'deregistered') {
    out.push(el('button', { 'data-action': 'revoke', onclick: () => act(id, 'revoke', {},
      'Revoke node ' + id + '? Its certificate stops working at once and its streams are cut.') }, 'revoke'));
  }
  return out;
}

function matches(view) {
  const state = document.getElementById('state-filter').value;
  const label = document.getElementById('label-filter').value.trim();
  if (state && view.state !== state) return false;
  if (label) {
    const [k, v] = label.split('=');
    const have = (view.labels || {})[k];
    if (have === undefined || (v !== undefined && have !== v)) return false;
  }
  return true;
}

function renderFleet() {
  const tbody = document.querySelector('#nodes tbody');
  const rows = [...nodes.values()].sort((a, b) => a.node_id - b.node_id).filter(matches).map(v =>
    el('tr', { 'data-node': v.node_id },
      el('td', { class: 'id' }, el('a', { href: '#/node/' + v.node_id }, v.node_id)),
      el('td', {}, el('span', { class: 'state ' + v.state }, v.state)),
      el('td', {}, ...labels(v)),
      el('td', { title: v.last_heartbeat || '' }, ago(v.last_heartbeat)),
      el('td', {}, v.ttl_secs ? v.ttl_secs + ' s' : '-'),
      el('td', {}, day(v.cert_not_after)),
      el('td', {}, replicas(v)),
      el('td', {}, ...actions(v))));
  tbody.replaceChildren(...rows);
  const byState = {};
  for (const v of nodes.values()) byState[v.state] = (byState[v.state] || 0) + 1;
  document.getElementById('counts').textContent = nodes.size + ' nodes: ' +
    Object.entries(byState).map(([s, n]) => n + ' ' + s).join(', ');
}

async function renderNode(id) {
  const data = await api('GET', '/v1/nodes/' + id);
  const v = data.node;
  nodes.set(v.node_id, v);
  document.getElementById('node-id').textContent = v.node_id;
  const st = document.getElementById('node-state');
  st.textContent = v.state;
  st.className = 'state ' + v.state;
  document.getElementById('node-actions').replaceChildren(...actions(v));
  const facts = [['state since', v.state_since], ['cause', v.state_cause], ['os / arch', (v.os || '-') + ' / ' + (v.arch || '-')],
    ['api address', v.api_addr], ['protocol', v.protocol], ['registered', v.registered_at],
    ['last heartbeat', v.last_heartbeat ? v.last_heartbeat + ' (' + ago(v.last_heartbeat) + ')' : '-'],
    ['lease age', v.lease_age_secs != null ? v.lease_age_secs + ' s' : '-'], ['TTL', v.ttl_secs ? v.ttl_secs + ' s' : '-'],
    ['certificate expires', v.cert_not_after], ['labels', Object.entries(v.labels || {}).map(([a, b]) => a + '=' + b).join(', ')]];
  document.getElementById('node-facts').replaceChildren(...facts.flatMap(([k, val]) => [el('dt', {}, k), el('dd', {}, val == null || val === '' ? '-' : val)]));
  document.querySelector('#node-replicas tbody').replaceChildren(...(v.containers || []).map(c =>
    el('tr', {}, el('td', {}, c.service), el('td', {}, c.role), el('td', {}, c.replica), el('td', {}, c.state), el('td', {}, c.pid), el('td', {}, c.restarts))));
  const events = data.events || {};
  document.querySelector('#node-assignments tbody').replaceChildren(...(events.assignments || []).map(e =>
    el('tr', {}, el('td', {}, e.revision), el('td', {}, e.kind), el('td', {}, e.service || ''),
      el('td', {}, e.spec ? e.spec.command + ' ' + JSON.stringify(e.assignments || []) : ''))));
  const results = new Map((v.command_results || []).map(r => [r.command_id, r]));
  document.querySelector('#node-commands tbody').replaceChildren(...(events.commands || []).map(c => {
    const r = results.get(c.id);
    const detail = c.deadline_secs != null ? 'deadline ' + c.deadline_secs + ' s' : c.reason || (c.version != null ? 'version ' + c.version : '');
    return el('tr', {}, el('td', {}, c.id), el('td', {}, c.kind), el('td', {}, detail), el('td', {}, r ? (r.ok ? 'ok' : 'failed: ' + r.message) : '-'));
  }));
}

function route() {
  const m = location.hash.match(/^#\/node\/(\d+)/);
  document.getElementById('fleet').hidden = !!m;
  document.getElementById('node').hidden = !m;
  if (m) renderNode(Number(m[1])).catch(showError); else renderFleet();
}

async function refreshAll() {
  const data = await api('GET', '/v1/nodes');
  nodes.clear();
  for (const v of data.nodes) nodes.set(v.node_id, v);
  if (data.cluster_id) document.getElementById('cluster').textContent = 'cluster ' + data.cluster_id;
  route();
}

async function refreshOne(id) {
  const data = await api('GET', '/v1/nodes/' + id);
  nodes.set(id, data.node);
  const m = location.hash.match(/^#\/node\/(\d+)/);
  if (m && Number(m[1]) === id) renderNode(id).catch(showError); else if (!m) renderFleet();
}

// A state change from /v1/events ({node_id, state, cause}): shown at once, then the node's
// whole view is fetched (debounced) for the other columns.
const pending = new Set();
let pendingTimer = null;

function changed(ev) {
  const known = nodes.get(ev.node_id);
  if (known) {
    known.state = ev.state;
    if (ev.cause !== undefined) known.state_cause = ev.cause;
  }
  const m = location.hash.match(/^#\/node\/(\d+)/);
  if (!m) renderFleet();
  pending.add(ev.node_id);
  if (!pendingTimer) {
    pendingTimer = setTimeout(() => {
      pendingTimer = null;
      const ids = [...pending];
      pending.clear();
      const work = ids.length > 20 ? refreshAll() : Promise.all(ids.map(refreshOne));
      work.catch(showError);
    }, 150);
  }
}

// GET /v1/events: "event: node" with a node view as data, on every state change; reconnects.
async function listen() {
  const live = document.getElementById('live');
  for (;;) {
    try {
      const res = await fetch('/v1/events', { headers: { 'Authorization': 'Bearer ' + token } });
      if (!res.ok) throw new Error('events: ' + res.status);
      live.textContent = 'live'; live.className = 'live on';
      await refreshAll();
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message', data = '';
          for (const line of frame.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (event === 'node' && data) changed(JSON.parse(data));
        }
      }
    } catch (e) {
      console.warn(e);
    }
    live.textContent = 'offline'; live.className = 'live off';
    await new Promise(r => setTimeout(r, 2000));
  }
}

if (!token) {
  document.getElementById('login').hidden = false;
} else {
  window.addEventListener('hashchange', route);
  document.getElementById('state-filter').addEventListener('change', renderFleet);
  document.getElementById('label-filter').addEventListener('input', renderFleet);
  refreshAll().catch(showError);
  listen();
  setInterval(() => { if (document.getElementById('node').hidden) renderFleet(); }, 5000); // "n s ago"
  setInterval(() => refreshAll().catch(showError), 30000); // heartbeats and replicas, which send no events
}
