// The page's own style and behaviour, inlined so the file opens offline (no CDN, no Mermaid).

export const PAGE_STYLE = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2937;display:grid;grid-template-columns:220px 1fr 380px;height:100vh}
aside,main,#panel{overflow:auto;padding:12px}aside{border-right:1px solid #e5e7eb;background:#f9fafb}#panel{border-left:1px solid #e5e7eb}
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
})();
`;
