import { count, findingLine } from './markdown.js';
import { PAGE_SCRIPT, PAGE_STYLE } from './html-assets.js';
import { LOOP_ROOM, type LaidOutEdge, type LaidOutNode, type Layout, layoutGraph, RANK_GAP } from './layout.js';
import type { DocsModel, DocumentedEvent } from './model.js';
import { requiredLabel } from './schema.js';

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const eventButton = (type: string) => `<button class="ev" type="button" data-select="${escapeHtml(type)}">${escapeHtml(type)}</button>`;

function svgNode(node: LaidOutNode, model: DocsModel, live: boolean): string {
  const type = node.kind === 'event' ? node.key.slice(2) : undefined;
  const handler = node.kind === 'handler' ? model.graph.handlers.find((h) => `h:${h.name}` === node.key) : undefined;
  const missing = type !== undefined && !model.byType.get(type)?.node.contract;
  const classes = ['node', node.kind, ...(missing ? ['missing'] : [])].join(' ');
  const attrs =
    type !== undefined
      ? ` data-type="${escapeHtml(type)}" tabindex="0" role="button"`
      : handler
        ? ` data-group="${escapeHtml(handler.group)}" data-on="${escapeHtml(handler.on)}"`
        : '';
  const rx = node.kind === 'publisher' ? 22 : node.kind === 'event' ? 10 : 3;
  // Served live (serveLiveGraph) the nodes have two more lines, which the script fills.
  const line = (n: number, cls: string) => `<text class="${cls}" x="${node.x + 12}" y="${node.y + 19 + 15 * n}"></text>`;
  const liveLines = !live
    ? ''
    : node.kind === 'event'
      ? `${line(2, 'live')}${line(3, 'live totals')}`
      : node.kind === 'handler'
        ? `${line(2, 'live')}${line(3, 'live retries')}<a class="dl" href="#dead-letters"><text text-anchor="end" x="${node.x + node.width - 10}" y="${node.y + 64}"></text></a>`
        : '';
  return [
    `<g class="${classes}" data-key="${escapeHtml(node.key)}"${attrs}>`,
    `<rect x="${node.x}" y="${node.y}" width="${node.width}" height="${node.height}" rx="${rx}"/>`,
    `<text x="${node.x + 12}" y="${node.y + 19}">${escapeHtml(node.label)}</text>`,
    node.sublabel ? `<text class="sub" x="${node.x + 12}" y="${node.y + 34}">${escapeHtml(node.sublabel)}</text>` : '',
    liveLines,
    '</g>',
  ].join('');
}

function svgEdge(edge: LaidOutEdge, at: ReadonlyMap<string, LaidOutNode>, width: number, loop: number): string {
  const a = at.get(edge.from);
  const b = at.get(edge.to);
  if (!a || !b) return '';
  let d: string;
  if (b.y > a.y) {
    // Down a rank or more: bottom centre to top centre.
    const x1 = a.x + a.width / 2;
    const y1 = a.y + a.height;
    const x2 = b.x + b.width / 2;
    const y2 = b.y;
    const bend = (y2 - y1) / 2;
    d = `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}`;
  } else {
    // A backward edge (a cycle): out of the bottom, along the gap under its row to a channel right of
    // every node, up to the gap above the target, and into its top — through no node on the way.
    const channel = width - LOOP_ROOM + 8 + 8 * loop;
    const x1 = a.x + a.width / 2 + 12;
    const below = a.y + a.height + RANK_GAP / 2 - 4 * loop;
    const x2 = b.x + (b.width * 3) / 4;
    const above = b.y - RANK_GAP / 2 + 4 * loop;
    d = `M${x1},${a.y + a.height} V${below} H${channel} V${above} H${x2} V${b.y}`;
  }
  return `<path class="edge ${edge.kind}" data-from="${escapeHtml(edge.from)}" data-to="${escapeHtml(edge.to)}" d="${d}" marker-end="url(#arrow)"/>`;
}

function svg(layout: Layout, model: DocsModel, live: boolean): string {
  const at = new Map(layout.nodes.map((n) => [n.key, n]));
  let loops = 0;
  const edge = (e: LaidOutEdge) => {
    const a = at.get(e.from);
    const b = at.get(e.to);
    const backward = a !== undefined && b !== undefined && b.y <= a.y;
    return svgEdge(e, at, layout.width, backward ? loops++ % 4 : 0);
  };
  return [
    `<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#9ca3af"/></marker></defs>',
    ...layout.edges.map(edge),
    ...layout.nodes.map((n) => svgNode(n, model, live)),
    '</svg>',
  ].join('\n');
}

function detail(doc: DocumentedEvent, model: DocsModel): string {
  const { node } = doc;
  const groupOf = (name: string) => model.graph.handlers.find((h) => h.name === name)?.group ?? '?';
  const list = (items: string[]) => (items.length === 0 ? '<p>—</p>' : `<ul>${items.map((i) => `<li>${i}</li>`).join('')}</ul>`);
  const parts = [
    `<section class="detail" id="detail-${doc.id}" data-type="${escapeHtml(node.type)}" hidden>`,
    `<h2>${escapeHtml(node.type)}</h2>`,
    node.contract
      ? `<p>${escapeHtml(node.contract.description)}</p><p>Version ${node.contract.version} · channel <code>${escapeHtml(node.contract.channel)}</code></p>`
      : '<p class="finding error">No contract: something emits or handles this type without a defineEvent.</p>',
    '<h3>Produced by</h3>',
    list([...node.publishers.map((p) => `${escapeHtml(p)} (entry point)`), ...node.emittedBy.map((h) => `${escapeHtml(h)} (handler)`)]),
    '<h3>Consumed by</h3>',
    list(node.consumers.map((h) => `${escapeHtml(h)} (group ${escapeHtml(groupOf(h))})`)),
    '<h3>Leads to</h3>',
    list(node.leadsTo.map(eventButton)),
    '<h3>Caused by</h3>',
    list(node.causedBy.map(eventButton)),
  ];
  if (doc.schema) {
    parts.push(
      '<h3>Schema</h3>',
      doc.rows.length === 0
        ? '<p>No fields.</p>'
        : `<table class="schema"><thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr></thead><tbody>${doc.rows
            .map((r) => `<tr><td><code>${escapeHtml(r.path)}</code></td><td>${escapeHtml(r.type)}</td><td>${escapeHtml(requiredLabel(r))}</td><td>${escapeHtml(r.description)}</td></tr>`)
            .join('')}</tbody></table>`,
      '<h3>Example</h3>',
      `<pre>${escapeHtml(JSON.stringify(doc.example, null, 2))}</pre>`,
      doc.exampleValid ? '' : '<p>Made from the schema and short of some constraint: give the contract an example.</p>',
    );
  }
  parts.push('</section>');
  return parts.join('\n');
}

export interface HtmlOptions {
  /**
   * The snapshot URL (relative to the page) of a running service's live counts (`serveLiveGraph`): the
   * page then polls it and shows the counts on its nodes. Without it, the static page `eventbus docs` writes.
   */
  liveUrl?: string;
}

/** One self-contained page: the graph as SVG, a searchable event list, and a detail panel per event. */
export function renderHtml(model: DocsModel, options: HtmlOptions = {}): string {
  const live = options.liveUrl !== undefined;
  const { graph } = model;
  const findings = graph.findings.map((f) => `<p class="finding ${f.severity}">${escapeHtml(findingLine(f))}</p>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(graph.title)} — event graph</title>${live ? `\n<meta name="eventbus-live" content="${escapeHtml(options.liveUrl ?? '')}">` : ''}
<style>${PAGE_STYLE}</style>
</head>
<body>
<aside>
<h1>${escapeHtml(graph.title)}</h1>
<input id="search" type="search" placeholder="Find an event type" aria-label="Find an event type" autocomplete="off">
<ul id="event-list">
${model.events.map((e) => `<li data-type="${escapeHtml(e.node.type)}">${eventButton(e.node.type)}</li>`).join('\n')}
</ul>
</aside>
<main>
<div id="view-tools"><button type="button" data-zoom="out" title="Zoom out (or Ctrl + wheel, pinch)">−</button><button type="button" data-zoom="fit" title="Fit the graph to the window">fit</button><button type="button" data-zoom="in" title="Zoom in">+</button><span id="live-status" hidden></span></div>
${svg(layoutGraph(graph, { live }), model, live)}
</main>
<div id="panel">
<section id="overview">
<h2>${escapeHtml(graph.title)}</h2>
${graph.description ? `<p>${escapeHtml(graph.description)}</p>` : ''}
<p>${count(graph.events.length, 'event')}, ${count(graph.handlers.length, 'handler')}, ${count(graph.publishers.length, 'entry point')}. Click an event to see its schema and neighbours.</p>
<h3>Findings</h3>
${findings || '<p>None.</p>'}
</section>
${model.events.map((e) => detail(e, model)).join('\n')}
<section id="dead-letters" hidden>
<h2>Dead letters</h2>
<p id="dead-letters-of"></p>
<ol id="dead-letter-list"></ol>
</section>
</div>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
