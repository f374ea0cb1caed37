// The page's own style and behaviour, inlined so the file opens offline (no CDN, no Mermaid).

export const PAGE_STYLE = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2937;display:grid;grid-template-columns:200px 1fr 340px;height:100vh}
aside,main,#panel{overflow:auto;padding:12px}main{padding-top:0;position:relative}#graph{display:block;margin:0 auto;touch-action:none}main.panning{cursor:grabbing}
#view-tools{position:sticky;top:0;left:0;z-index:1;display:flex;gap:4px;align-items:center;padding:6px 0;background:rgba(255,255,255,.9)}
#view-tools button{font:inherit;font-size:12px;min-width:28px;padding:2px 8px;border:1px solid #d1d5db;border-radius:6px;background:#fff;cursor:pointer}
#live-status{font-size:12px;color:#059669;margin-left:8px}#live-status.down{color:#b91c1c}
@media (max-width:900px){body{display:block;height:auto}aside{border-right:0;max-height:30vh}main{height:75vh;border-top:1px solid #e5e7eb;border-bottom:1px solid #e5e7eb}#panel{border-left:0}}aside{border-right:1px solid #e5e7eb;background:#f9fafb}#panel{border-left:1px solid #e5e7eb}
h1{font-size:16px;margin:0 0 8px}h2{font-size:16px;margin:4px 0 8px;word-break:break-all}h3{font-size:13px;margin:14px 0 6px;text-transform:uppercase;color:#6b7280}
#search{width:100%;padding:6px 8px;border:1px solid #d1d5db;border-radius:6px}#event-list{list-style:none;padding:0;margin:8px 0}
#event-list button,.ev{background:none;border:0;padding:2px 4px;color:#1d4ed8;cursor:pointer;font:inherit;text-align:left;word-break:break-all}
#event-list button:hover,.ev:hover{text-decoration:underline}li[hidden]{display:none}
.node{cursor:default}.node rect{stroke-width:1.5}.node text{font-size:12px;pointer-events:none}.node .sub{fill:#6b7280;font-size:10px}
.node.event{cursor:pointer;outline:none}.node.event rect{fill:#fff7e6;stroke:#d97706}.node.missing rect{fill:#fee2e2;stroke:#dc2626;stroke-dasharray:4 3}
.node.handler rect{fill:#ecfdf5;stroke:#059669}.node.publisher rect{fill:#eef6ff;stroke:#3b82f6}
.edge{fill:none;stroke:#9ca3af;stroke-width:1.3}.edge.emits{stroke-dasharray:5 4}
.dim{opacity:.25}.node.selected rect{stroke-width:3;stroke:#7c3aed}.node.near rect{stroke-width:2.5}.edge.near{stroke:#7c3aed;stroke-width:2}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{border:1px solid #e5e7eb;padding:3px 5px;text-align:left;vertical-align:top}
code,pre{font:12px ui-monospace,Menlo,monospace}pre{background:#f3f4f6;padding:8px;border-radius:6px;overflow:auto}
.node .live{fill:#374151;font-size:10px}.node a.dl text{fill:#b91c1c;font-size:10px;text-decoration:underline;cursor:pointer;pointer-events:auto}
.node.busy rect{stroke-width:2.5}.node.failing rect{stroke:#b91c1c}#dead-letter-list li{margin:0 0 10px}#dead-letter-list pre{margin:4px 0;white-space:pre-wrap;word-break:break-all}
.finding{font-size:12px;margin:4px 0}.finding.error{color:#b91c1c}.finding.warning{color:#92400e}
`;

export const PAGE_SCRIPT = `
(function () {
  var nodes = Array.prototype.slice.call(document.querySelectorAll('.node'));
  var edges = Array.prototype.slice.call(document.querySelectorAll('.edge'));
  var details = Array.prototype.slice.call(document.querySelectorAll('.detail'));
  var items = Array.prototype.slice.call(document.querySelectorAll('#event-list li'));
  function select(type) {
    var key = 'e:' + type, near = {};
    details.forEach(function (d) { d.hidden = d.getAttribute('data-type') !== type; });
    document.getElementById('dead-letters').hidden = true;
    document.getElementById('overview').hidden = details.some(function (d) { return !d.hidden; });
    edges.forEach(function (e) {
      var from = e.getAttribute('data-from'), to = e.getAttribute('data-to'), hit = from === key || to === key;
      e.classList.toggle('near', hit);
      if (hit) { near[from] = true; near[to] = true; }
    });
    nodes.forEach(function (n) {
      var k = n.getAttribute('data-key');
      n.classList.toggle('selected', k === key);
      n.classList.toggle('near', k !== key && !!near[k]);
    });
    if (history.replaceState) history.replaceState(null, '', '#' + encodeURIComponent(type));
  }
  nodes.forEach(function (n) {
    if (!n.classList.contains('event')) return;
    var type = n.getAttribute('data-type');
    n.addEventListener('click', function () { select(type); });
    n.addEventListener('keydown', function (ev) { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); select(type); } });
  });
  document.addEventListener('click', function (ev) {
    var target = ev.target;
    if (target && target.getAttribute && target.getAttribute('data-select')) select(target.getAttribute('data-select'));
  });
  var search = document.getElementById('search');
  function filter() {
    var q = search.value.trim().toLowerCase();
    items.forEach(function (li) { li.hidden = q !== '' && li.getAttribute('data-type').toLowerCase().indexOf(q) < 0; });
    nodes.forEach(function (n) {
      var type = n.getAttribute('data-type');
      n.classList.toggle('dim', q !== '' && (!type || type.toLowerCase().indexOf(q) < 0));
    });
    return items.filter(function (li) { return !li.hidden; });
  }
  search.addEventListener('input', filter);
  search.addEventListener('keydown', function (ev) {
    if (ev.key !== 'Enter') return;
    var first = filter()[0];
    if (first) select(first.getAttribute('data-type'));
  });
  var hash = decodeURIComponent(location.hash.slice(1));
  if (hash && details.some(function (d) { return d.getAttribute('data-type') === hash; })) select(hash);

  // Fit, zoom and pan: the SVG keeps its viewBox and is drawn at width × scale inside <main>.
  var main = document.querySelector('main'), graph = document.getElementById('graph');
  var W = +graph.getAttribute('width'), H = +graph.getAttribute('height'), scale = 1, fitted = true;
  function draw() { graph.setAttribute('width', String(Math.round(W * scale))); graph.setAttribute('height', String(Math.round(H * scale))); }
  function fit() {
    var tools = document.getElementById('view-tools').offsetHeight;
    var room = Math.min((main.clientWidth - 24) / W, (main.clientHeight - tools - 12) / H);
    scale = Math.max(0.2, Math.min(1, room)); fitted = true; draw();
  }
  function zoom(factor, cx, cy) {
    var box = main.getBoundingClientRect();
    var px = cx === undefined ? main.clientWidth / 2 : cx - box.left, py = cy === undefined ? main.clientHeight / 2 : cy - box.top;
    var gx = (main.scrollLeft + px) / scale, gy = (main.scrollTop + py) / scale;
    scale = Math.max(0.2, Math.min(4, scale * factor)); fitted = false; draw();
    main.scrollLeft = gx * scale - px; main.scrollTop = gy * scale - py;
  }
  document.getElementById('view-tools').addEventListener('click', function (ev) {
    var how = ev.target && ev.target.getAttribute && ev.target.getAttribute('data-zoom');
    if (how === 'fit') fit(); else if (how === 'in') zoom(1.25); else if (how === 'out') zoom(0.8);
  });
  // Ctrl + wheel, and a touchpad pinch (which Chromium reports as one), zoom around the pointer.
  main.addEventListener('wheel', function (ev) {
    if (!ev.ctrlKey) return;
    ev.preventDefault(); zoom(Math.exp(-ev.deltaY * 0.002), ev.clientX, ev.clientY);
  }, { passive: false });
  var drag = null;
  main.addEventListener('pointerdown', function (ev) {
    if (ev.button !== 0 || (ev.target.closest && ev.target.closest('.node.event, a, button'))) return;
    drag = { x: ev.clientX, y: ev.clientY, left: main.scrollLeft, top: main.scrollTop };
    main.classList.add('panning');
  });
  window.addEventListener('pointermove', function (ev) {
    if (!drag) return;
    main.scrollLeft = drag.left - (ev.clientX - drag.x); main.scrollTop = drag.top - (ev.clientY - drag.y);
  });
  window.addEventListener('pointerup', function () { drag = null; main.classList.remove('panning'); });
  window.addEventListener('resize', function () { if (fitted) fit(); });
  fit();

  // Live: served by a running service (serveLiveGraph), the page has a meta naming its snapshot.
  var meta = document.querySelector('meta[name="eventbus-live"]');
  if (!meta) return;
  var status = document.getElementById('live-status'), latest = null, shown = null;
  status.hidden = false;
  var panel = document.getElementById('dead-letters');
  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many); }
  function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }
  function showDeadLetters(group, type) {
    shown = { group: group, type: type };
    details.forEach(function (d) { d.hidden = true; });
    document.getElementById('overview').hidden = true;
    panel.hidden = false;
    renderDeadLetters();
  }
  function renderDeadLetters() {
    if (!shown || !latest || panel.hidden) return;
    var h = latest.handlers.filter(function (x) { return x.group === shown.group && x.type === shown.type; })[0];
    setText(document.getElementById('dead-letters-of'), 'Group ' + shown.group + ', ' + shown.type + ': ' + plural(h ? h.deadLetters : 0, 'dead letter', 'dead letters') + ' (the newest kept here).');
    var list = document.getElementById('dead-letter-list');
    var ids = (h ? h.recentDeadLetters : []).map(function (r) { return r.id; }).join(',');
    if (list.getAttribute('data-ids') === ids) return;
    list.setAttribute('data-ids', ids);
    list.textContent = '';
    (h ? h.recentDeadLetters : []).forEach(function (r) {
      var li = document.createElement('li'), a = document.createElement('a'), p = document.createElement('div'), pre = document.createElement('pre');
      a.href = 'dead-letters/' + encodeURIComponent(r.id); a.textContent = r.id; a.className = 'dead-letter';
      p.textContent = r.at + ' · attempt ' + r.attempt + ' · ' + r.reason;
      pre.textContent = JSON.stringify(r.data, null, 2);
      li.appendChild(a); li.appendChild(p); li.appendChild(pre); list.appendChild(li);
    });
  }
  nodes.forEach(function (n) {
    var link = n.querySelector('a.dl');
    if (link) link.addEventListener('click', function (ev) { ev.preventDefault(); showDeadLetters(n.getAttribute('data-group'), n.getAttribute('data-on')); });
  });
  function paint(snapshot) {
    latest = snapshot;
    var byType = {}, byHandler = {};
    snapshot.events.forEach(function (e) { byType[e.type] = e; });
    var totals = {};
    snapshot.handlers.forEach(function (h) {
      byHandler[h.group + ' ' + h.type] = h;
      var t = totals[h.type] || (totals[h.type] = { inFlight: 0, retries: 0, deadLetters: 0 });
      t.inFlight += h.inFlight; t.retries += h.retries; t.deadLetters += h.deadLetters;
    });
    nodes.forEach(function (n) {
      var lines = n.querySelectorAll('.live');
      if (n.classList.contains('event')) {
        var e = byType[n.getAttribute('data-type')] || { rate: 0, published: 0 };
        var t = totals[n.getAttribute('data-type')] || { inFlight: 0, retries: 0, deadLetters: 0 };
        setText(lines[0], e.rate + '/s · ' + e.published + ' published');
        // Over every group that handles it (each handler node below shows its own).
        setText(lines[1], t.inFlight + ' in flight · ' + plural(t.retries, 'retry', 'retries') + ' · ' + t.deadLetters + ' dead');
      } else if (n.classList.contains('handler')) {
        var h = byHandler[n.getAttribute('data-group') + ' ' + n.getAttribute('data-on')] || { rate: 0, inFlight: 0, retries: 0, deadLetters: 0 };
        setText(lines[0], h.rate + '/s · ' + h.inFlight + ' in flight');
        setText(lines[1], plural(h.retries, 'retry', 'retries'));
        setText(n.querySelector('a.dl text'), h.deadLetters > 0 ? plural(h.deadLetters, 'dead letter', 'dead letters') : '');
        n.classList.toggle('busy', h.inFlight > 0);
        n.classList.toggle('failing', h.deadLetters > 0);
      }
    });
    renderDeadLetters();
    status.className = ''; setText(status, 'live · ' + snapshot.at.slice(11, 19) + ' UTC · rates over ' + snapshot.windowSeconds + ' s');
  }
  function poll() {
    fetch(meta.getAttribute('content'), { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(paint, function () { status.className = 'down'; setText(status, 'live · the service does not answer'); })
      .then(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
`;
