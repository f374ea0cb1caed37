/**
 * The small live page at `/`: submit launches, watch each request move accepted → launching →
 * launched/failed, and see notifications arrive over Server-Sent Events. Self-contained (no CDN).
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>eventbus · EC2 launches</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; } form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: end; margin-bottom: 1rem; }
  label { display: flex; flex-direction: column; font-size: .8rem; color: #555; }
  input, button { font: inherit; padding: .35rem .5rem; } button { cursor: pointer; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eee; font-size: .85rem; }
  .status { font-weight: 600; } .accepted { color: #777; } .launching { color: #b66d00; } .launched { color: #137333; } .waiting { color: #1a55b0; } .failed { color: #c5221f; }
  .chain { color: #666; font-family: ui-monospace, monospace; font-size: .75rem; }
  #notes { list-style: none; padding: 0; } #notes li { padding: .25rem 0; } #error { color: #c5221f; }
  #sse { font-size: .8rem; color: #777; }
</style>
</head>
<body>
<h1>EC2 launches through eventbus</h1>
<p>POST answers <b>202</b> at once; a worker launches behind the broker (rate limit 2/s, retries, dead-letter); the outcome arrives as a notification. <span id="sse">connecting…</span></p>
<form id="launch">
  <label>user <input name="userId" value="demo-user" required></label>
  <label>image <input name="imageId" value="ami-0123456789abcdef0" required></label>
  <label>type <input name="instanceType" value="t3.micro" required></label>
  <label>how many <input name="count" type="number" value="1" min="1" max="200" style="width:5rem"></label>
  <button type="submit">Launch</button>
</form>
<p id="error"></p>
<table><thead><tr><th>request</th><th>status</th><th>chain so far</th><th>instances</th></tr></thead><tbody id="rows"></tbody></table>
<h2 style="font-size:1.1rem">Notifications</h2>
<ul id="notes"></ul>
<script>
const rows = document.getElementById('rows');
const pending = new Set();
function row(id) {
  let tr = document.querySelector('tr[data-request-id="' + id + '"]');
  if (!tr) {
    tr = document.createElement('tr');
    tr.dataset.requestId = id;
    tr.innerHTML = '<td class="id"></td><td class="status accepted">accepted</td><td class="chain"></td><td class="instances"></td>';
    tr.querySelector('.id').textContent = id.slice(0, 8);
    rows.prepend(tr);
  }
  return tr;
}
function show(record) {
  const tr = row(record.requestId);
  const cell = tr.querySelector('.status');
  cell.textContent = record.status === 'waiting' && record.waitingUntil
    ? 'waiting until ' + new Date(record.waitingUntil).toLocaleTimeString('en-GB', { hour12: false })
    : record.status;
  cell.className = 'status ' + record.status;
  tr.dataset.status = record.status;
  tr.querySelector('.chain').textContent = record.chain.map((s) => s.type).join(' → ');
  tr.querySelector('.instances').textContent = record.instanceIds.join(', ');
  if ((record.status === 'launched' || record.status === 'failed') && record.notification) pending.delete(record.requestId);
}
async function refresh(id) {
  const res = await fetch('/v1/requests/' + encodeURIComponent(id));
  if (res.ok) show(await res.json());
}
setInterval(() => { for (const id of pending) refresh(id); }, 700);
document.getElementById('launch').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const body = { userId: f.get('userId'), imageId: f.get('imageId'), instanceType: f.get('instanceType') };
  const n = Math.max(1, Math.min(200, Number(f.get('count')) || 1));
  document.getElementById('error').textContent = '';
  for (let i = 0; i < n; i++) {
    const res = await fetch('/v1/ec2/instances', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await res.json();
    if (res.status !== 202) { document.getElementById('error').textContent = res.status + ' ' + JSON.stringify(answer); break; }
    row(answer.requestId); pending.add(answer.requestId); refresh(answer.requestId);
  }
});
const events = new EventSource('/v1/notifications');
events.onopen = () => { document.getElementById('sse').textContent = 'live'; };
events.onerror = () => { document.getElementById('sse').textContent = 'reconnecting…'; };
events.addEventListener('notification', (e) => {
  const n = JSON.parse(e.data);
  const li = document.createElement('li');
  li.textContent = (n.level === 'success' ? '✅ ' : '❌ ') + n.requestId.slice(0, 8) + ' · ' + n.message;
  document.getElementById('notes').prepend(li);
  refresh(n.requestId);
});
</script>
</body>
</html>
`;
