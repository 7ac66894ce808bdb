// tenement dashboard: signs in with an API token (kept in sessionStorage),
// then polls /api/summary and one page of /api/instances (the search and
// the state filter are the API's q and state; the pages follow its Link
// header). Everything is rendered with textContent: no server string is
// ever parsed as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'tenement.token';
  const REFRESH_MS = 5000;
  const LOG_LINES = 50;
  // PAGE_SIZE is the most rows the table ever holds: thousands of tenants
  // are paged through, never rendered at once.
  const PAGE_SIZE = 50;
  const SEARCH_DELAY_MS = 300;

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  };

  const state = {
    token: null,
    scope: null, // "admin" or "tenant"
    tenant: '',
    rows: new Map(), // instance id -> <tr>
    cpu: new Map(), // instance id -> {nsec, at} of the previous sample
    logsFor: null,
    logsReturn: null, // the button to focus when the logs close
    timer: null,
    refreshing: false,
    again: false,
    session: 0, // bumped at every sign-in and sign-out
    // What the table shows: the filters, and the page as the cursors
    // (the API's after) of the pages followed so far, for going back.
    filter: { q: '', state: '' },
    cursors: [''],
    page: 0,
    next: null, // the next page's cursor, from the Link header
    view: 0, // bumped whenever the filters or the page change
  };

  class AuthError extends Error {}
  // StaleError: the answer belongs to a session signed out since.
  class StaleError extends Error {}

  // ---- API ---------------------------------------------------------------

  async function api(method, path, body) {
    return (await request(method, path, body)).data;
  }

  // request is api that also returns the answer's headers.
  async function request(method, path, body) {
    const session = state.session;
    const headers = { Authorization: 'Bearer ' + state.token, Accept: 'application/json' };
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const text = await res.text();
    if (session !== state.session) throw new StaleError('signed out meanwhile');
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (res.status === 401) throw new AuthError((data && data.error) || 'token not accepted');
    if (!res.ok) {
      let msg = (data && data.error) || `${res.status} ${res.statusText}`;
      const retry = res.headers.get('Retry-After');
      if (res.status === 429 && retry) msg += ` (try again in ${retry} s)`;
      const err = new Error(msg);
      err.status = res.status;
      throw err;
    }
    return { data, headers: res.headers };
  }

  // listPath asks for the page the table shows.
  function listPath() {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.filter.q) q.set('q', state.filter.q);
    if (state.filter.state) q.set('state', state.filter.state);
    if (state.cursors[state.page]) q.set('after', state.cursors[state.page]);
    return '/api/instances?' + q;
  }

  // nextCursor reads the after of a Link header's rel="next" (RFC 8288).
  function nextCursor(link) {
    for (const part of (link || '').split(',')) {
      const m = /^\s*<([^>]*)>(.*)$/.exec(part);
      if (m && /;\s*rel\s*=\s*"?(?:[^";]*\s)?next(?:[\s";]|$)/i.test(m[2])) {
        return new URL(m[1], location.href).searchParams.get('after');
      }
    }
    return null;
  }

  // ---- formatting --------------------------------------------------------

  function fmtBytes(n) {
    if (n == null) return null;
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
  }

  function fmtDuration(secs) {
    if (secs < 60) return `${secs} s`;
    const m = Math.floor(secs / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h} h ${m % 60} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }

  function fmtAgo(iso) {
    const t = Date.parse(iso);
    if (!iso || Number.isNaN(t)) return null;
    const secs = Math.max(0, Math.round((Date.now() - t) / 1000));
    return secs < 5 ? 'just now' : fmtDuration(secs) + ' ago';
  }

  const fmtInt = new Intl.NumberFormat();
  const fmtMs = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  // ---- sign in and out ---------------------------------------------------

  function showSignIn(message) {
    state.session++;
    stopRefresh();
    clearTimeout(toastTimer);
    $('toast').textContent = '';
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    state.rows.clear();
    state.cpu.clear();
    $('rows').replaceChildren();
    state.filter = { q: '', state: '' };
    $('search').value = '';
    $('state-filter').value = '';
    resetPages();
    $('announce').textContent = '';
    closeLogs(false);
    $('app').hidden = true;
    $('who').hidden = true;
    $('signin').hidden = false;
    $('signin-error').textContent = message || '';
    $('token').value = '';
    $('token').focus();
  }

  async function signIn(token, fromStorage) {
    state.session++;
    state.token = token;
    let summary;
    try {
      summary = await api('GET', '/api/summary');
    } catch (err) {
      if (err instanceof StaleError) return;
      showSignIn(fromStorage ? '' : err instanceof AuthError ? 'That token was not accepted.' : `Could not sign in: ${err.message}`);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    state.scope = summary.scope;
    state.tenant = summary.tenant || '';
    const label = $('who-label');
    label.replaceChildren('Signed in as ', el('strong', { text: state.scope === 'admin' ? 'admin' : `tenant ${state.tenant}` }));
    $('who').hidden = false;
    $('signin').hidden = true;
    $('app').hidden = false;
    $('spawn-form').hidden = state.scope !== 'admin';
    renderSummary(summary);
    $('main').focus();
    await refresh();
  }

  // ---- refresh -----------------------------------------------------------

  function stopRefresh() {
    clearTimeout(state.timer);
    state.timer = null;
  }

  function scheduleRefresh() {
    stopRefresh();
    if (state.token && !document.hidden) state.timer = setTimeout(refresh, REFRESH_MS);
  }

  async function refresh() {
    if (!state.token) return;
    if (state.refreshing) {
      state.again = true; // e.g. an action ended during a refresh: show its effect
      return;
    }
    state.refreshing = true;
    state.again = false;
    const session = state.session;
    const view = state.view;
    try {
      const [summary, page] = await Promise.all([api('GET', '/api/summary'), request('GET', listPath())]);
      renderSummary(summary);
      const list = page.data || [];
      if (view !== state.view) {
        state.again = true; // the filters or the page changed meanwhile: ask again
      } else if (list.length === 0 && state.page > 0) {
        // The page emptied (instances deleted): show the one before.
        state.page--;
        state.cursors.length = state.page + 1;
        state.view++;
        state.again = true;
      } else {
        state.next = nextCursor(page.headers.get('Link'));
        renderInstances(list.slice(0, PAGE_SIZE));
        renderPager(list.length);
      }
      $('updated').textContent = 'Updated ' + new Date().toLocaleTimeString();
      if (state.logsFor) await loadLogs();
    } catch (err) {
      if (err instanceof AuthError) showSignIn('The token is no longer accepted. Sign in again.');
      else if (!(err instanceof StaleError)) $('updated').textContent = `Update failed: ${err.message}`;
    } finally {
      state.refreshing = false;
    }
    if (!state.token) return;
    if (state.again || session !== state.session) refresh();
    else scheduleRefresh();
  }

  // ---- rendering ---------------------------------------------------------

  function renderSummary(s) {
    const st = s.states || {};
    $('s-instances').textContent = fmtInt.format(s.instances);
    $('s-awake').textContent = fmtInt.format((st.running || 0) + (st.starting || 0));
    $('s-asleep').textContent = fmtInt.format(st.asleep || 0);
    $('s-failed').textContent = fmtInt.format(st.failed || 0);
    $('s-wakes').textContent = fmtInt.format(s.wakes_last_minute);
    $('s-requests').textContent = fmtInt.format(s.requests_total);
    const ok = s.wakes_total - s.wake_errors_total;
    $('s-wake-time').textContent = ok > 0 ? `${fmtMs.format(s.wake_avg_ms)} ms` : '–';
    const causes = s.wakes_by_cause || {};
    $('s-wake-time').title = 'Wakes by cause: ' + Object.keys(causes).sort()
      .map((c) => `${c} ${fmtInt.format(causes[c])}`).join(', ');
    $('s-asleep-time').textContent = fmtDuration(Math.round(s.asleep_seconds_total || 0));
    $('s-probes').textContent = fmtInt.format(s.probes_answered_total || 0);
  }

  const COLUMNS = ['state', 'health', 'weight', 'uptime', 'memory', 'cpu', 'restarts', 'wake', 'actions'];
  const LABELS = { state: 'State', health: 'Health', weight: 'Weight', uptime: 'Uptime', memory: 'Memory', cpu: 'CPU', restarts: 'Restarts', wake: 'Last wake' };
  const NUMERIC = new Set(['weight', 'uptime', 'memory', 'cpu', 'restarts']);

  function renderInstances(list) {
    const seen = new Set();
    const changes = [];
    const tbody = $('rows');
    let prev = null;
    for (const inst of list) {
      seen.add(inst.id);
      let tr = state.rows.get(inst.id);
      if (!tr) {
        tr = newRow(inst.id);
        state.rows.set(inst.id, tr);
      }
      const changed = updateRow(tr, inst);
      if (changed) changes.push(changed);
      // Keep the server's order without re-inserting rows that are in
      // place: moving a row would take the keyboard focus from its button.
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== tr) tbody.insertBefore(tr, want);
      prev = tr;
    }
    for (const [id, tr] of state.rows) {
      if (!seen.has(id)) {
        tr.remove();
        state.rows.delete(id);
        state.cpu.delete(id);
        if (state.logsFor === id) closeLogs(false);
      }
    }
    $('empty').hidden = list.length > 0;
    $('empty').textContent = state.filter.q || state.filter.state ? 'No instances match.' : 'No instances yet.';
    // Screen readers hear state changes (a live region), not every refresh.
    if (changes.length) $('announce').textContent = changes.join(' ');
  }

  // ---- filters and pages --------------------------------------------------

  function resetPages() {
    state.cursors = [''];
    state.page = 0;
    state.next = null;
    state.view++;
  }

  // applyFilters shows the first page of what the search box and the state
  // filter select, if they changed.
  function applyFilters() {
    clearTimeout(searchTimer);
    const filter = { q: $('search').value.trim().toLowerCase(), state: $('state-filter').value };
    if (filter.q === state.filter.q && filter.state === state.filter.state) return;
    state.filter = filter;
    resetPages();
    refresh();
  }

  let searchTimer = null;
  function searchLater() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(applyFilters, SEARCH_DELAY_MS);
  }

  function goToPage(delta) {
    if (delta > 0) {
      if (!state.next) return;
      state.cursors[state.page + 1] = state.next;
      state.page++;
    } else {
      if (state.page === 0) return;
      state.page--;
    }
    state.cursors.length = state.page + 1;
    state.next = null; // until the page comes: a second click waits for it
    state.view++;
    refresh();
  }

  // renderPager shows where the page is ("Instances 51–100", count rows)
  // and which way the buttons go.
  function renderPager(count) {
    const prev = $('prev-page');
    const next = $('next-page');
    const had = document.activeElement === prev || document.activeElement === next ? document.activeElement : null;
    prev.disabled = state.page === 0;
    next.disabled = !state.next;
    $('pager').hidden = state.page === 0 && !state.next;
    const first = state.page * PAGE_SIZE + 1;
    const text = count === 0 ? '' : `Instances ${fmtInt.format(first)}–${fmtInt.format(first + count - 1)}`;
    if ($('page-status').textContent !== text) $('page-status').textContent = text;
    // A button that has just been disabled drops the keyboard focus: give
    // it to the other one, or to the search box.
    if (had && had.disabled) {
      const other = had === prev ? next : prev;
      (other.disabled || $('pager').hidden ? $('search') : other).focus();
    }
  }

  function newRow(id) {
    const tr = el('tr', { 'data-instance': id });
    // The name, and under it the custom domains bound to the instance.
    tr.append(el('th', { scope: 'row' }, el('span', { class: 'name', text: id }), el('span', { class: 'domains' })));
    for (const c of COLUMNS) {
      const td = el('td', { 'data-col': c });
      if (LABELS[c]) td.setAttribute('data-label', LABELS[c]);
      if (NUMERIC.has(c)) td.classList.add('num');
      if (c === 'actions') td.classList.add('actions');
      tr.append(td);
    }
    return tr;
  }

  const cell = (tr, col) => tr.querySelector(`td[data-col="${col}"]`);
  const na = (text, title) => el('span', { class: 'na', text, title: title || '' });

  function setCell(tr, col, ...content) {
    const td = cell(tr, col);
    const key = JSON.stringify(content.map((c) => (typeof c === 'string' ? c : c.outerHTML)));
    if (td.dataset.key === key) return; // unchanged: leave the DOM (and focus) alone
    td.dataset.key = key;
    td.replaceChildren(...content);
  }

  function updateRow(tr, i) {
    const running = i.state === 'running';
    const changed = tr.dataset.state && tr.dataset.state !== i.state ? `${i.id} is now ${i.state}.` : null;
    tr.dataset.state = i.state;
    const domains = (i.domains || []).join(' ');
    const dom = tr.querySelector('th .domains');
    if (dom.textContent !== domains) {
      dom.textContent = domains;
      dom.title = domains ? `Custom domains: ${domains}` : '';
    }
    setCell(tr, 'state', el('span', { class: `badge st-${i.state}`, text: i.state }),
      ...(i.reason && i.state !== 'running' ? [el('span', { class: 'reason', text: i.reason })] : []));
    setCell(tr, 'health', running ? el('span', { class: `badge h-${i.health}`, text: i.health }) : na('—'));
    setCell(tr, 'weight', String(i.weight));
    setCell(tr, 'uptime', running ? fmtDuration(i.uptime_secs) : na('—'));
    setCell(tr, 'memory', i.memory_bytes != null ? fmtBytes(i.memory_bytes) : running ? na('n/a', 'systemd does not report memory for this unit') : na('—'));
    setCell(tr, 'cpu', cpuCell(i));
    setCell(tr, 'restarts', String(i.restarts));
    const ago = fmtAgo(i.last_wake);
    setCell(tr, 'wake', ago ? el('time', { datetime: i.last_wake, title: new Date(i.last_wake).toLocaleString(), text: ago }) : na('never'));
    updateActions(tr, i);
    return changed;
  }

  // cpuCell shows CPU use between two refreshes, from systemd's cumulative
  // CPUUsageNSec; the first sample shows the total.
  function cpuCell(i) {
    if (i.state !== 'running' && i.state !== 'starting') {
      state.cpu.delete(i.id);
      return na('—');
    }
    if (i.cpu_usage_nsec == null) {
      return na('n/a', 'systemd does not report CPU use for this unit (no cpu accounting, e.g. on cgroup v1)');
    }
    const now = performance.now();
    const prev = state.cpu.get(i.id);
    state.cpu.set(i.id, { nsec: i.cpu_usage_nsec, at: now });
    const total = (i.cpu_usage_nsec / 1e9).toFixed(2) + ' s';
    if (!prev || i.cpu_usage_nsec < prev.nsec || now - prev.at < 500) {
      return el('span', { title: 'CPU time used', text: total });
    }
    const pct = ((i.cpu_usage_nsec - prev.nsec) / 1e6 / (now - prev.at)) * 100;
    return el('span', { title: `CPU time used: ${total}`, text: pct.toFixed(pct < 10 ? 1 : 0) + ' %' });
  }

  function updateActions(tr, i) {
    const td = cell(tr, 'actions');
    const admin = state.scope === 'admin';
    const awake = i.state === 'running' || i.state === 'starting';
    const key = `${admin}|${awake}|${i.state}`;
    if (td.dataset.key === key) return;
    td.dataset.key = key;
    const had = td.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    const btn = (action, text, cls = '') => el('button', {
      type: 'button', class: `btn small ${cls}`, 'data-action': action,
      'aria-label': `${text} ${i.id}`, text, onclick: () => act(action, i.id, tr),
    });
    const group = el('div', { class: 'actions-group' }, btn('logs', 'Logs'));
    if (admin) {
      // A failed instance comes back by a restart, not a start.
      if (awake) group.append(btn('stop', 'Stop', 'danger'));
      else if (i.state === 'asleep') group.append(btn('start', 'Start'));
      group.append(btn('restart', 'Restart'), btn('weight', 'Weight'));
    } else {
      group.append(btn('restart', 'Restart')); // a tenant may restart its own
    }
    td.replaceChildren(group);
    if (had) {
      const again = td.querySelector(`[data-action="${had}"]`) || td.querySelector('button');
      if (again) again.focus();
    }
  }

  // ---- actions -----------------------------------------------------------

  const ACTIONS = {
    stop: {
      title: (id) => `Stop ${id}?`,
      text: 'The instance stops now. It stays known and wakes again on its next request.',
      confirm: 'Stop',
      run: (id) => api('POST', `/api/instances/${id}/stop`),
      done: (id) => `Stopped ${id}.`,
    },
    start: {
      title: (id) => `Start ${id}?`,
      text: 'The instance starts now and the dashboard waits until it is ready.',
      confirm: 'Start',
      run: (id) => { const [service, ...rest] = id.split(':'); return api('POST', '/api/instances/spawn', { service, id: rest.join(':') }); },
      done: (id) => `Started ${id}.`,
    },
    restart: {
      title: (id) => `Restart ${id}?`,
      text: 'The instance stops and starts again; requests wait while it starts.',
      confirm: 'Restart',
      run: (id) => api('POST', `/api/instances/${id}/restart`),
      done: (id) => `Restarted ${id}.`,
    },
    weight: {
      title: (id) => `Routing weight of ${id}`,
      text: 'Share of the service’s weighted traffic; 0 takes the instance out of it.',
      confirm: 'Set weight',
      weight: true,
      run: (id, w) => api('PUT', `/api/instances/${id}/weight`, { weight: w }),
      done: (id, w) => `Weight of ${id} is ${w}.`,
    },
  };

  async function act(action, id, tr) {
    if (action === 'logs') {
      openLogs(id, tr.querySelector('[data-action="logs"]'));
      return;
    }
    const a = ACTIONS[action];
    const current = Number(cell(tr, 'weight').textContent);
    const answer = await confirmDialog(a.title(id), a.text, a.confirm, a.weight ? current : null);
    if (!answer.ok) return;
    await runAction(a, id, tr, answer.weight);
  }

  async function runAction(a, id, tr, weight) {
    // Disabling the focused button drops the focus: put it back after.
    const focused = tr && tr.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    if (tr) {
      tr.setAttribute('aria-busy', 'true');
      tr.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    }
    toast(`Working on ${id}…`);
    try {
      await a.run(id, weight);
      toast(a.done(id, weight));
    } catch (err) {
      if (err instanceof StaleError) return;
      if (err instanceof AuthError) {
        showSignIn('The token is no longer accepted. Sign in again.');
        return;
      }
      toast(`${id}: ${err.message}`, true);
    } finally {
      if (tr) {
        tr.removeAttribute('aria-busy');
        tr.querySelectorAll('button').forEach((b) => { b.disabled = false; });
      }
    }
    await refresh();
    if (focused && tr.isConnected && !tr.contains(document.activeElement)) {
      const next = { stop: 'start', start: 'stop' }[focused];
      const b = tr.querySelector(`[data-action="${focused}"]`) || tr.querySelector(`[data-action="${next}"]`) || tr.querySelector('button');
      if (b) b.focus();
    }
  }

  let toastTimer = null;
  function toast(message, bad = false) {
    const t = $('toast');
    t.classList.toggle('bad', bad);
    t.textContent = message;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.textContent = ''; }, bad ? 12000 : 5000);
  }

  // confirmDialog asks before an action; with a weight, it asks for one.
  function confirmDialog(title, text, confirmLabel, weight) {
    const dlg = $('confirm');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = confirmLabel;
    const field = $('weight-field');
    const input = $('weight-input');
    field.hidden = weight == null;
    input.required = weight != null;
    if (weight != null) input.value = String(weight);
    dlg.returnValue = '';
    return new Promise((resolve) => {
      dlg.addEventListener('close', () => {
        resolve({ ok: dlg.returnValue === 'ok', weight: weight == null ? null : Number(input.value) });
      }, { once: true });
      dlg.showModal();
      if (weight != null) input.select();
      else $('confirm-ok').focus();
    });
  }

  async function spawn(ev) {
    ev.preventDefault();
    const input = $('spawn-name');
    const err = $('spawn-error');
    const name = input.value.trim().toLowerCase();
    if (!/^[a-z][a-z0-9]{0,31}:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
      err.textContent = 'Write the instance as service:id, e.g. notes:alice.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    err.textContent = '';
    input.removeAttribute('aria-invalid');
    const answer = await confirmDialog(`Spawn ${name}?`, 'The instance is created if it is new, and started.', 'Spawn', null);
    if (!answer.ok) return;
    await runAction({ ...ACTIONS.start, done: (id) => `Spawned ${id}.` }, name, state.rows.get(name));
    input.value = '';
  }

  // ---- logs --------------------------------------------------------------

  function openLogs(id, returnTo) {
    state.logsFor = id;
    state.logsReturn = returnTo;
    $('logs-title').textContent = `Logs of ${id}`;
    $('log-lines').replaceChildren(el('li', { class: 'none', text: 'Loading…' }));
    $('logs').hidden = false;
    $('logs-title').focus();
    $('logs').scrollIntoView({ block: 'nearest' });
    loadLogs().catch((err) => {
      if (err instanceof AuthError) showSignIn('The token is no longer accepted. Sign in again.');
    });
  }

  function closeLogs(restoreFocus = true) {
    state.logsFor = null;
    $('logs').hidden = true;
    if (restoreFocus && state.logsReturn && state.logsReturn.isConnected) state.logsReturn.focus();
    state.logsReturn = null;
  }

  async function loadLogs() {
    const id = state.logsFor;
    if (!id) return;
    let entries;
    try {
      entries = await api('GET', `/api/logs?instance=${encodeURIComponent(id)}&lines=${LOG_LINES}`);
    } catch (err) {
      if (err instanceof AuthError || err instanceof StaleError) throw err;
      if (state.logsFor === id) $('log-lines').replaceChildren(el('li', { class: 'none', text: `Could not read the logs: ${err.message}` }));
      return;
    }
    if (state.logsFor !== id) return;
    const box = $('log-lines');
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 8;
    if (!entries || entries.length === 0) {
      box.replaceChildren(el('li', { class: 'none', text: 'No log lines yet.' }));
      return;
    }
    box.replaceChildren(...entries.map((e) => el('li', {},
      el('time', { datetime: e.time, text: new Date(e.time).toLocaleTimeString() }),
      el('span', { class: `lvl lvl-${e.level}`, text: e.level }),
      el('span', { class: 'msg', text: e.message }))));
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  // ---- start -------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', () => {
    $('host').textContent = location.host;
    $('signin-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const token = $('token').value.trim();
      if (!token) {
        $('signin-error').textContent = 'Paste a token first.';
        $('token').focus();
        return;
      }
      $('signin-error').textContent = '';
      signIn(token, false);
    });
    $('signout').addEventListener('click', () => showSignIn('Signed out.'));
    $('spawn-form').addEventListener('submit', spawn);
    $('filter-form').addEventListener('submit', (ev) => { ev.preventDefault(); applyFilters(); });
    $('search').addEventListener('input', searchLater);
    $('search').addEventListener('search', applyFilters); // the clear button of type=search
    $('state-filter').addEventListener('change', applyFilters);
    $('prev-page').addEventListener('click', () => goToPage(-1));
    $('next-page').addEventListener('click', () => goToPage(1));
    $('logs-close').addEventListener('click', () => closeLogs(true));
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) stopRefresh();
      else if (state.token) refresh();
    });
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) signIn(saved, true);
    else showSignIn('');
  });
})();
