import type { EventGraph } from '../graph/model.js';

export interface LaidOutNode {
  /** "p:<name>", "e:<type>" or "h:<name>". */
  readonly key: string;
  readonly kind: 'publisher' | 'event' | 'handler';
  readonly label: string;
  readonly sublabel?: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface LaidOutEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: 'publishes' | 'consumes' | 'emits';
}

export interface Layout {
  readonly nodes: readonly LaidOutNode[];
  readonly edges: readonly LaidOutEdge[];
  readonly width: number;
  readonly height: number;
}

// Two lines: the name and the kind or version; served live, two more for the counts.
const NODE_HEIGHT = 44;
const LIVE_NODE_HEIGHT = 70;
const NODE_GAP = 24;
export const RANK_GAP = 44;
const MARGIN = 20;
export const LOOP_ROOM = 44;
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
// About 7.2 px a character of the 12 px name, 6 px of the 10 px second line (a group name can be longer).
// An event node is wider: its live line of totals ("0 in flight · 0 retries · 0 dead") needs ~165 px.
const nodeWidth = (info: { kind: LaidOutNode['kind']; label: string; sublabel?: string } | undefined) =>
  Math.max(info?.kind === 'event' ? 176 : 150, Math.ceil((info?.label.length ?? 0) * 7.2) + 28, Math.ceil((info?.sublabel?.length ?? 0) * 6) + 24);

/**
 * Rows by distance from the entry points (entry points → events → handlers → events …), top to bottom,
 * each row ordered by where its predecessors sit and centred. Top to bottom because a chain is long and
 * a rank is narrow: left to right, the reference service's 11 nodes needed 1,687 px and showed 5 of them
 * at a 1,400 px window; stacked, its widest row is 4 handlers (~760 px) and the page scrolls down, not
 * sideways. Pure arithmetic on sorted input: stable output.
 */
export function layoutGraph(graph: EventGraph, options: { live?: boolean } = {}): Layout {
  const nodeHeight = options.live ? LIVE_NODE_HEIGHT : NODE_HEIGHT;
  const edges: LaidOutEdge[] = [];
  for (const p of graph.publishers) for (const t of p.publishes) edges.push({ from: `p:${p.name}`, to: `e:${t}`, kind: 'publishes' });
  for (const h of graph.handlers) {
    edges.push({ from: `e:${h.on}`, to: `h:${h.name}`, kind: 'consumes' });
    for (const t of h.emits) edges.push({ from: `h:${h.name}`, to: `e:${t}`, kind: 'emits' });
  }
  const rank = new Map<string, number>(graph.publishers.map((p) => [`p:${p.name}`, 0]));
  const walk = (seeds: string[]) => {
    const queue = [...seeds];
    while (queue.length > 0) {
      const type = queue.shift() as string;
      const r = rank.get(`e:${type}`) as number;
      for (const h of graph.handlers.filter((x) => x.on === type)) {
        if (rank.has(`h:${h.name}`)) continue;
        rank.set(`h:${h.name}`, r + 1);
        for (const t of h.emits) {
          if (rank.has(`e:${t}`)) continue;
          rank.set(`e:${t}`, r + 2);
          queue.push(t);
        }
      }
    }
  };
  const seeds = graph.events.filter((e) => e.publishers.length > 0 || e.emittedBy.length === 0).map((e) => e.type);
  for (const t of seeds) rank.set(`e:${t}`, 1);
  walk(seeds);
  for (const e of graph.events) {
    // Events reachable only inside a cycle with no entry point.
    if (rank.has(`e:${e.type}`)) continue;
    rank.set(`e:${e.type}`, 1);
    walk([e.type]);
  }

  const label = new Map<string, { kind: LaidOutNode['kind']; label: string; sublabel?: string }>();
  for (const p of graph.publishers) label.set(`p:${p.name}`, { kind: 'publisher', label: p.name, sublabel: 'entry point' });
  for (const e of graph.events) label.set(`e:${e.type}`, { kind: 'event', label: e.type, sublabel: e.contract ? `v${e.contract.version}` : 'no contract' });
  for (const h of graph.handlers) label.set(`h:${h.name}`, { kind: 'handler', label: h.name, sublabel: `group ${h.group}` });

  const rows: string[][] = [];
  for (const [key, r] of rank) {
    const row = rows[r] ?? [];
    row.push(key);
    rows[r] = row;
  }
  const rowWidth = (row: readonly string[]) => row.reduce((sum, k) => sum + nodeWidth(label.get(k)), 0) + NODE_GAP * (row.length - 1);
  const inner = Math.max(...rows.filter(Boolean).map(rowWidth), 160);
  // Room on the right for the loops of backward edges (cycles).
  const width = inner + 2 * MARGIN + LOOP_ROOM;
  const centre = new Map<string, number>();
  const nodes: LaidOutNode[] = [];
  let y = MARGIN;
  for (const row of rows) {
    if (!row) continue;
    const weight = (key: string) => {
      const before = edges.filter((e) => e.to === key && centre.has(e.from)).map((e) => centre.get(e.from) as number);
      return before.length === 0 ? Number.POSITIVE_INFINITY : before.reduce((a, b) => a + b, 0) / before.length;
    };
    const ordered = row
      .map((key) => ({ key, w: weight(key) }))
      .sort((a, b) => (a.w === b.w ? byText(a.key, b.key) : a.w < b.w ? -1 : 1))
      .map((o) => o.key);
    let x = MARGIN + (inner - rowWidth(ordered)) / 2;
    for (const key of ordered) {
      const info = label.get(key) as { kind: LaidOutNode['kind']; label: string; sublabel?: string };
      const w = nodeWidth(info);
      nodes.push({ key, ...info, x: Math.round(x), y, width: w, height: nodeHeight });
      centre.set(key, x + w / 2);
      x += w + NODE_GAP;
    }
    y += nodeHeight + RANK_GAP;
  }
  // The extra 12 px: a backward edge runs in the gap under the last row too.
  return { nodes, edges, width, height: Math.max(y - RANK_GAP + MARGIN + 12, 100) };
}
