// holdscan web console: plain JavaScript, no build step, no libraries.
//
// Every piece of data goes into the page through textContent (el() below)
// or SVG attributes, never through innerHTML: the server's Content-Security-
// Policy allows no inline script either. The CSRF token the login gives is
// kept in memory only and sent with every POST.
'use strict';

(function () {
  let me = null;          // {name, role, domains, addresses, csrf}
  const main = document.getElementById('main');
  const VERDICTS = ['clean', 'spam', 'high-spam', 'blocked', 'infected', 'scan-failed'];
  const COLORS = { 'clean': '#4c9a52', 'spam': '#e0a030', 'high-spam': '#c07010',
    'blocked': '#8e44ad', 'infected': '#c0392b', 'scan-failed': '#7f8c8d' };

  // el('tag', {attr: value, onclick: fn}, child...) - children are nodes or text.
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'class') e.className = v;
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined) continue;
      e.appendChild(typeof k === 'object' ? k : document.createTextNode(String(k)));
    }
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function when(t) { return t ? new Date(t * 1000).toLocaleString() : ''; }
  function epoch(v) { return v ? String(Math.floor(new Date(v).getTime() / 1000)) : ''; }

  function flash(text, isError) {
    const f = document.getElementById('flash');
    f.textContent = text;
    f.className = isError ? 'error' : '';
    f.hidden = false;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(() => { f.hidden = true; }, 6000);
  }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', headers: {} };
    if (method === 'POST') {
      opts.headers['Content-Type'] = 'application/json';
      if (me) opts.headers['X-CSRF-Token'] = me.csrf;
      opts.body = JSON.stringify(body || {});
    }
    const r = await fetch(path, opts);
    let j = {};
    try { j = await r.json(); } catch (e) { j = { error: 'not JSON' }; }
    if (r.status === 401 && path !== '/api/login') {
      me = null;
      showLogin('Your session ended; log in again.');
      throw new ApiError(401, j.error || 'not logged in');
    }
    if (!r.ok) throw new ApiError(r.status, j.error || ('HTTP ' + r.status));
    return j;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
    const s = q.toString();
    return s ? '?' + s : '';
  }

  // --- login -------------------------------------------------------------------
  function showLogin(message) {
    document.getElementById('nav').hidden = true;
    document.getElementById('logout').hidden = true;
    document.getElementById('who').textContent = '';
    clear(main);
    const err = el('p', { id: 'login-error', class: 'error-text' }, message || '');
    const name = el('input', { id: 'login-name', name: 'name', autocomplete: 'username', required: true });
    const pw = el('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const form = el('form', { class: 'login', id: 'login-form' },
      el('h1', {}, 'Log in'),
      el('label', {}, 'Name', name),
      el('label', {}, 'Password', pw),
      el('button', { class: 'primary', type: 'submit', id: 'login-submit' }, 'Log in'),
      err);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        me = await api('POST', '/api/login', { name: name.value, password: pw.value });
        loggedIn();
      } catch (e) {
        err.textContent = e.message;
      }
    });
    main.appendChild(form);
    name.focus();
  }

  function loggedIn() {
    document.getElementById('nav').hidden = false;
    document.getElementById('logout').hidden = false;
    const scope = me.role === 'admin' ? 'admin' :
      me.role + ': ' + [].concat(me.domains, me.addresses).join(', ');
    document.getElementById('who').textContent = me.name + ' (' + scope + ')';
    if (!location.hash || location.hash === '#/' || location.hash === '#/login') location.hash = '#/quarantine';
    else route();
  }

  // --- the quarantine ---------------------------------------------------------------
  const qstate = { offset: 0, limit: 50, filters: {} };

  function filterForm(fields, values, onSubmit, id) {
    const inputs = {};
    const form = el('form', { class: 'filters', id });
    for (const f of fields) {
      let input;
      if (f.options) {
        input = el('select', { name: f.name, id: id + '-' + f.name },
          f.options.map((o) => el('option', { value: o, selected: values[f.name] === o }, o || 'any')));
      } else {
        input = el('input', { name: f.name, id: id + '-' + f.name, type: f.type || 'text',
          value: values[f.name] || '', size: f.size || 16 });
      }
      inputs[f.name] = input;
      form.appendChild(el('label', {}, f.label, input));
    }
    form.appendChild(el('button', { class: 'primary', type: 'submit', id: id + '-submit' }, 'Search'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = {};
      for (const [k, i] of Object.entries(inputs)) v[k] = i.value;
      onSubmit(v);
    });
    return form;
  }

  async function showQuarantine() {
    clear(main);
    main.appendChild(el('h1', {}, 'Quarantine'));
    main.appendChild(filterForm([
      { name: 'sender', label: 'Sender (address, domain or text)' },
      { name: 'recipient', label: 'Recipient' },
      { name: 'subject', label: 'Subject contains' },
      { name: 'reason', label: 'Reason contains' },
      { name: 'state', label: 'State', options: ['held', 'released', 'deleted', ''] },
      { name: 'host', label: 'Host (a farm)' },
      { name: 'since', label: 'Since', type: 'datetime-local' },
      { name: 'until', label: 'Until', type: 'datetime-local' },
    ], qstate.filters, (v) => { qstate.filters = v; qstate.offset = 0; showQuarantine(); }, 'qfilter'));
    const f = qstate.filters;
    const params = { sender: f.sender, recipient: f.recipient, subject: f.subject, reason: f.reason, host: f.host,
      state: f.state === undefined ? 'held' : f.state, since: epoch(f.since), until: epoch(f.until),
      offset: qstate.offset, limit: qstate.limit };
    let r;
    try { r = await api('GET', '/api/quarantine' + query(params)); } catch (e) { flash(e.message, true); return; }
    farmNote(r);
    const boxes = [];
    const table = el('table', { id: 'qtable' },
      el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', {}, 'Quarantined'), el('th', {}, 'From'),
        el('th', {}, 'To'), el('th', {}, 'Subject'), el('th', {}, 'Verdict'), el('th', {}, 'Reason'),
        el('th', {}, 'State'), el('th', {}, 'Host'))),
      el('tbody', {}, r.items.map((q) => {
        const box = el('input', { type: 'checkbox', class: 'qpick', value: q.id, onclick: (ev) => ev.stopPropagation() });
        boxes.push(box);
        return el('tr', { class: 'row qrow', 'data-id': q.id, onclick: () => { location.hash = '#/q/' + encodeURIComponent(q.id); } },
          el('td', {}, box), el('td', {}, when(q.quarantined)), el('td', {}, q.sender || '<>'),
          el('td', {}, q.recipients.join(', ')), el('td', { class: 'subject' }, q.subject),
          el('td', { class: 'verdict-' + q.verdict }, q.verdict), el('td', {}, q.reason), el('td', { class: 'qstate' }, q.state),
          el('td', { class: 'qhost' }, q.host || ''));
      })));
    const bulk = async (action) => {
      const ids = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!ids.length) { flash('Select messages first.', true); return; }
      if (action === 'delete' && !confirm('Delete ' + ids.length + ' message(s)?')) return;
      try {
        const res = await api('POST', '/api/quarantine/bulk', { action, ids });
        const done = res.results.filter((x) => x.outcome === 'done').length;
        const queued = res.results.filter((x) => x.outcome === 'queued').length;
        const bad = res.results.filter((x) => x.error).map((x) => x.id + ': ' + x.error);
        flash(action + ': ' + done + ' done' + (queued ? ', ' + queued + ' queued for their host' : '') + (bad.length ? '; ' + bad.join('; ') : ''), bad.length > 0);
      } catch (e) { flash(e.message, true); }
      showQuarantine();
    };
    main.appendChild(el('div', { class: 'actions' },
      el('button', { type: 'button', id: 'bulk-release', onclick: () => bulk('release') }, 'Release selected'),
      el('button', { type: 'button', id: 'bulk-delete', class: 'danger', onclick: () => bulk('delete') }, 'Delete selected'),
      el('span', { id: 'qcount' }, r.total + (r.exact === false ? '+' : '') + ' message(s)' +
        (r.partial ? ' (more may match: the search stopped after ' + r.walk_limit +
          ' entries; narrow it: a sender address or domain, a recipient, a time range)' : ''))));
    main.appendChild(table);
    main.appendChild(pager(r.offset, r.items.length, r.total > r.offset + r.items.length, (o) => { qstate.offset = o; showQuarantine(); }, qstate.limit));
  }

  function pager(offset, n, more, go, limit) {
    return el('div', { class: 'pager' },
      el('button', { type: 'button', id: 'prev', disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit)) }, '← Newer'),
      el('span', {}, n ? (offset + 1) + '–' + (offset + n) : 'none'),
      el('button', { type: 'button', id: 'next', disabled: !more, onclick: () => go(offset + limit) }, 'Older →'));
  }

  function kv(pairs) {
    return el('dl', { class: 'kv' }, pairs.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v === undefined || v === null ? '' : v)]));
  }

  // showMessage(id, said): the message as it is now, and what the last action said.
  async function showMessage(id, said) {
    clear(main);
    let r;
    try { r = await api('GET', '/api/quarantine/' + encodeURIComponent(id)); } catch (e) {
      main.appendChild(el('h1', {}, 'Quarantined message'));
      main.appendChild(el('p', { id: 'message-error', class: 'error-text' }, e.status === 404 ? 'No such message.' : e.message));
      return;
    }
    const q = r.entry;
    const result = el('p', { class: 'result', id: 'action-result' }, said || '');
    const act = async (action, body) => {
      let text;
      try {
        const a = await api('POST', '/api/quarantine/' + encodeURIComponent(q.id) + '/' + action, body || {});
        const on = a.host ? ' on ' + a.host : '';
        if (a.outcome === 'queued') {
          text = 'Sent to ' + a.host + ' (request ' + a.request + '): no answer yet; ' + a.host + ' carries it out when its holdscand is back.';
        } else if (action === 'release') {
          text = a.outcome === 'done' ? 'Released' + on + ' as ' + a.new_id + '.' :
            'Already released' + on + (a.new_id ? ' (as ' + a.new_id + ')' : '') + '.';
        } else {
          text = a.outcome === 'done' ? 'Deleted' + on + '.' : 'Already deleted' + on + '.';
        }
        if (a.host && a.outcome === 'done') text += ' The state here follows when ' + a.host + '\'s record arrives.';
      } catch (e) { text = e.message; }
      showMessage(q.id, text);
    };
    const to = el('input', { id: 'release-to', size: 40, placeholder: 'other@example.org, ...' });
    main.append(
      el('h1', {}, 'Quarantined message'),
      kv([['Id', q.id], ['Queue id', q.orig_id], ['Arrived', when(q.arrival)], ['Quarantined', when(q.quarantined)],
        ['From', q.sender || '<>'], ['To', q.recipients.join(', ')], ['Subject', q.subject],
        ['Verdict', q.verdict], ['Reason', q.reason], ['Size', q.size + ' bytes'], ['State', q.state],
        ['Released as', q.new_id], ['Released to', q.released_to], ['Host', q.host || r.held_on || '']]));
    if (r.held_on) main.append(el('p', { id: 'held-on', class: 'note' }, 'Held on ' + r.held_on + '. ' + (r.remote || '')));
    main.append(
      el('div', { class: 'actions' },
        el('button', { type: 'button', class: 'primary', id: 'release', onclick: () => act('release') }, 'Release'),
        el('button', { type: 'button', id: 'release-other', onclick: () => act('release', { to: to.value.split(/[\s,]+/).filter(Boolean) }) }, 'Release to'),
        to,
        el('button', { type: 'button', class: 'danger', id: 'delete', onclick: () => { if (confirm('Delete this message?')) act('delete'); } }, 'Delete'),
        el('a', { href: '#/m/' + encodeURIComponent(q.id) }, 'Message log')),
      result);
    // A message held on another host of a farm: its preview when that host sent it.
    if (!r.held_on || r.headers !== undefined) {
      main.append(
        el('h2', {}, 'Attachments (listed, never served)'),
        el('ul', { id: 'attachments' }, (r.attachments || []).map((a) => el('li', {}, a.name + (a.type ? ' (' + a.type + ')' : '')))),
        el('h2', {}, 'Headers'),
        el('pre', { id: 'headers' }, r.headers || ''),
        el('h2', {}, 'Body (as text; HTML is shown as its source)'),
        el('pre', { id: 'body' }, (r.body || '') + (r.body_truncated ? '\n[… cut]' : '')));
    }
    if (r.preview_cut) main.append(el('p', { id: 'preview-cut', class: 'note' }, r.preview_cut));
    if (r.preview_error) main.append(el('p', { class: 'error-text' }, r.preview_error));
    farmNote(r);
  }

  // farmNote(r): the farm's database did not answer: say that this host's is all there is.
  function farmNote(r) {
    if (r && r.farm_error) main.insertBefore(el('p', { id: 'farm-error', class: 'error-text' }, r.farm_error), main.firstChild.nextSibling);
  }

  // --- the message log ----------------------------------------------------------------
  const lstate = { offset: 0, limit: 50, filters: {} };

  async function showLog() {
    clear(main);
    main.appendChild(el('h1', {}, 'Message log'));
    main.appendChild(filterForm([
      { name: 'sender', label: 'Sender' },
      { name: 'recipient', label: 'Recipient' },
      { name: 'subject', label: 'Subject contains' },
      { name: 'verdict', label: 'Verdict', options: [''].concat(VERDICTS) },
      { name: 'action', label: 'Action', options: ['', 'deliver', 'tag', 'deliver-cleaned', 'quarantine', 'drop', 'hold'] },
      { name: 'id', label: 'Queue or quarantine id' },
      { name: 'host', label: 'Host (a farm)' },
      { name: 'since', label: 'Since', type: 'datetime-local' },
      { name: 'until', label: 'Until', type: 'datetime-local' },
    ], lstate.filters, (v) => { lstate.filters = v; lstate.offset = 0; showLog(); }, 'lfilter'));
    const f = lstate.filters;
    let r;
    try {
      r = await api('GET', '/api/log' + query({ sender: f.sender, recipient: f.recipient, subject: f.subject,
        verdict: f.verdict, action: f.action, id: f.id, host: f.host, since: epoch(f.since), until: epoch(f.until),
        offset: lstate.offset, limit: lstate.limit }));
    } catch (e) { flash(e.message, true); return; }
    farmNote(r);
    main.appendChild(el('table', { id: 'ltable' },
      el('thead', {}, el('tr', {}, ['Time', 'Queue id', 'From', 'To', 'Subject', 'Verdict', 'Action', 'Host'].map((h) => el('th', {}, h)))),
      el('tbody', {}, r.items.map((m) => el('tr', { class: 'row lrow', 'data-id': m.orig_id,
        onclick: () => { location.hash = '#/m/' + encodeURIComponent(m.orig_id); } },
        el('td', {}, when(m.time)), el('td', {}, m.orig_id), el('td', {}, m.sender || '<>'),
        el('td', {}, m.recipients.join(', ')), el('td', { class: 'subject' }, m.subject),
        el('td', { class: 'verdict-' + m.verdict }, m.verdict), el('td', {}, m.action), el('td', { class: 'lhost' }, m.host || ''))))));
    if (r.partial) main.appendChild(el('p', { class: 'error-text' }, 'The search stopped early: narrow the filters.'));
    main.appendChild(pager(r.offset, r.items.length, r.more, (o) => { lstate.offset = o; showLog(); }, lstate.limit));
  }

  async function showDetail(id) {
    clear(main);
    main.appendChild(el('h1', {}, 'Message ' + id));
    let r;
    try { r = await api('GET', '/api/trace/' + encodeURIComponent(id)); } catch (e) {
      main.appendChild(el('p', { id: 'detail-error', class: 'error-text' }, e.status === 404 ? 'No record of this message.' : e.message));
      return;
    }
    farmNote(r);
    for (const m of r.items) {
      const ids = [m.orig_id, m.new_id, m.quarantine_id].concat((m.later_ids || '').split(' ')).filter(Boolean);
      main.append(
        el('p', { class: 'trace', id: 'trace' }, 'id trace: ' + ids.join(' → ')),
        kv([['Time', when(m.time)], ['Host', m.host], ['From', m.sender || '<>'], ['To', m.recipients.join(', ')],
          ['Subject', m.subject], ['Client', m.client], ['SASL user', m.sasl_user], ['Size', m.size + ' bytes'],
          ['Verdict', m.verdict], ['Action', m.action], ['Reason', m.reason],
          ['Waited in hold', m.queue_ms + ' ms'], ['Scan', m.scan_ms + ' ms']]),
        el('h2', {}, 'Each plugin'),
        el('table', { class: 'plugins' }, el('tbody', {}, (m.plugins || '').split(' ').filter(Boolean).map((p) => {
          const eq = p.indexOf('=');
          return el('tr', {}, el('td', {}, p.slice(0, eq)), el('td', {}, p.slice(eq + 1)));
        }))),
        el('h2', {}, 'Later'),
        el('ul', { class: 'events' }, m.events.length ? m.events.map((e) => el('li', {},
          when(e.time) + ': ' + e.kind + (e.new_id ? ' as ' + e.new_id : '') + (e.detail ? ' (' + e.detail + ')' : ''))) :
          el('li', {}, 'nothing')),
        m.quarantine_id ? el('p', {}, el('a', { href: '#/q/' + encodeURIComponent(m.quarantine_id) }, 'In the quarantine')) : null);
    }
  }

  // --- statistics -------------------------------------------------------------------
  let statsHours = 24;

  function barChart(hours) {
    const W = 900, H = 240, pad = 30;
    const max = Math.max(1, ...hours.map((h) => VERDICTS.reduce((s, v) => s + h[v], 0)));
    const bw = (W - pad) / hours.length;
    const g = svg('svg', { viewBox: '0 0 ' + W + ' ' + (H + 20), width: '100%', class: 'chart', id: 'chart', role: 'img' });
    g.appendChild(svg('text', { x: 2, y: 12, 'font-size': 11 })).textContent = String(max);
    hours.forEach((h, i) => {
      let y = H;
      for (const v of VERDICTS) {
        if (!h[v]) continue;
        const bh = (h[v] / max) * (H - 20);
        y -= bh;
        const r = svg('rect', { x: pad + i * bw, y, width: Math.max(1, bw - 1), height: bh, fill: COLORS[v] });
        r.appendChild(svg('title', {})).textContent = new Date(h.start * 1000).toLocaleString() + ': ' + h[v] + ' ' + v;
        g.appendChild(r);
      }
      if (i % Math.ceil(hours.length / 12) === 0) {
        g.appendChild(svg('text', { x: pad + i * bw, y: H + 14, 'font-size': 10 })).textContent =
          new Date(h.start * 1000).toLocaleString([], { month: 'numeric', day: 'numeric', hour: '2-digit' });
      }
    });
    return g;
  }

  function topTable(title, id, rows) {
    return el('div', {}, el('h2', {}, title), el('table', { id }, el('tbody', {},
      rows.length ? rows.map((r) => el('tr', {}, el('td', {}, r.name), el('td', {}, String(r.count)))) :
        el('tr', {}, el('td', {}, 'none')))));
  }

  async function showStats() {
    clear(main);
    main.appendChild(el('h1', {}, 'Statistics'));
    main.appendChild(el('div', { class: 'actions' },
      el('button', { type: 'button', id: 'stats-24h', class: statsHours === 24 ? 'primary' : '', onclick: () => { statsHours = 24; showStats(); } }, 'Last 24 hours'),
      el('button', { type: 'button', id: 'stats-7d', class: statsHours === 168 ? 'primary' : '', onclick: () => { statsHours = 168; showStats(); } }, 'Last 7 days')));
    let r;
    try { r = await api('GET', '/api/stats' + query({ hours: statsHours })); } catch (e) { flash(e.message, true); return; }
    farmNote(r);
    main.appendChild(el('h2', {}, 'Messages per hour by verdict (' + r.total + ' in all' +
      (r.partial ? '; the oldest hours are incomplete' : '') +
      (r.as_of ? '; as of ' + new Date(r.as_of * 1000).toLocaleTimeString() : '') + ')'));
    main.appendChild(barChart(r.hours));
    main.appendChild(el('div', { class: 'legend' }, VERDICTS.map((v) => {
      const i = el('i', {});
      i.style.background = COLORS[v];
      return el('span', {}, i, v);
    })));
    main.appendChild(el('div', { class: 'cols' },
      topTable('Top virus names', 'top-viruses', r.top_viruses),
      topTable('Top blocking reasons (attachment types, rules)', 'top-blocked', r.top_blocked),
      topTable('Top spam senders', 'top-spam', r.top_spam_senders)));
    if (r.metrics) {
      const m = r.metrics;
      main.appendChild(el('h2', {}, 'Queue and latency (holdscand\'s metrics)'));
      main.appendChild(kv([['Waiting in hold', m.hold_depth], ['Being scanned', m.in_flight], ['Set aside', m.set_aside],
        ['Hold → incoming, median', '≤ ' + m.latency_p50 + ' s'], ['Hold → incoming, 95th percentile', '≤ ' + m.latency_p95 + ' s'],
        ['Scan time, mean', (m.scan_mean * 1000).toFixed(1) + ' ms'], ['Messages since start', m.messages]]));
    }
  }


  // --- a digest's one-click link (no login: the link is the credential) ---------
  // GET /d/TOKEN sends the browser here; nothing happens until the button
  // is pressed (mail scanners fetch links), and a link works once.
  async function showDigest(token) {
    clear(main);
    const box = el('section', { class: 'digest', id: 'digest' }, el('h1', {}, 'Quarantined message'));
    const out = el('p', { id: 'digest-outcome' });
    main.appendChild(box);
    let info;
    try {
      info = await api('GET', '/api/digest/' + encodeURIComponent(token));
    } catch (e) {
      box.appendChild(el('p', { class: 'error-text', id: 'digest-error' }, 'This link does not work: ' + e.message + '.'));
      return;
    }
    const verb = info.action === 'release' ? 'Release' : 'Delete';
    box.appendChild(kv([['Message', info.id], ['For', info.recipient], ['Link valid until', when(info.expires)]]));
    const btn = el('button', { class: 'primary', type: 'button', id: 'digest-act' },
      verb + (info.action === 'release' ? ' it to ' + info.recipient : ' it'));
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        const r = await api('POST', '/api/digest/' + encodeURIComponent(token), {});
        if (info.action === 'release') {
          out.textContent = r.outcome === 'done' ? 'Released as ' + r.new_id + '.' :
            'Already released' + (r.new_id ? ' (as ' + r.new_id + ')' : '') + '.';
        } else {
          out.textContent = r.outcome === 'done' ? 'Deleted.' : 'Already deleted.';
        }
      } catch (e) {
        out.textContent = 'Not done: ' + e.message + '.';
        out.className = 'error-text';
      }
    });
    box.appendChild(btn);
    box.appendChild(out);
  }

  // --- routing ------------------------------------------------------------------------
  function route() {
    const d = (location.hash || '').match(/^#\/digest\/([A-Za-z0-9_-]+)$/);
    if (d) { showDigest(d[1]); return; }
    if (!me) return;
    const h = location.hash || '#/quarantine';
    for (const a of document.querySelectorAll('#nav a')) a.className = h.startsWith(a.getAttribute('href')) ? 'active' : '';
    let m;
    if ((m = h.match(/^#\/q\/(.+)$/))) showMessage(decodeURIComponent(m[1]));
    else if ((m = h.match(/^#\/m\/(.+)$/))) showDetail(decodeURIComponent(m[1]));
    else if (h === '#/log') showLog();
    else if (h === '#/stats') showStats();
    else showQuarantine();
  }

  window.addEventListener('hashchange', route);
  document.getElementById('logout').addEventListener('click', async () => {
    try { await api('POST', '/api/logout', {}); } catch (e) { /* gone already */ }
    me = null;
    location.hash = '#/login';
    showLogin('Logged out.');
  });
  if (/^#\/digest\//.test(location.hash || '')) route();
  else api('GET', '/api/me').then((j) => { me = j; loggedIn(); }).catch(() => { if (!me) showLogin(''); });
})();
