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

const NODE_HEIGHT = 44;
const ROW_GAP = 18;
const COLUMN_GAP = 70;
const MARGIN = 20;
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Columns by distance from the entry points (entry points → events → handlers → events …), each
 * column ordered by where its predecessors sit. Pure arithmetic on sorted input: stable output.
 */
export function layoutGraph(graph: EventGraph): Layout {
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

  const columns: string[][] = [];
  for (const [key, r] of rank) {
    const column = columns[r] ?? [];
    column.push(key);
    columns[r] = column;
  }
  const row = new Map<string, number>();
  const nodes: LaidOutNode[] = [];
  let x = MARGIN;
  let height = 0;
  for (const column of columns) {
    if (!column) continue;
    const weight = (key: string) => {
      const before = edges.filter((e) => e.to === key && row.has(e.from)).map((e) => row.get(e.from) as number);
      return before.length === 0 ? Number.POSITIVE_INFINITY : before.reduce((a, b) => a + b, 0) / before.length;
    };
    const ordered = column
      .map((key) => ({ key, w: weight(key) }))
      .sort((a, b) => (a.w === b.w ? byText(a.key, b.key) : a.w < b.w ? -1 : 1))
      .map((o) => o.key);
    const width = Math.max(150, ...ordered.map((k) => Math.ceil((label.get(k)?.label.length ?? 0) * 7.2) + 28));
    ordered.forEach((key, i) => {
      row.set(key, i);
      const info = label.get(key) as { kind: LaidOutNode['kind']; label: string; sublabel?: string };
      const y = MARGIN + i * (NODE_HEIGHT + ROW_GAP);
      nodes.push({ key, ...info, x, y, width, height: NODE_HEIGHT });
      height = Math.max(height, y + NODE_HEIGHT + MARGIN);
    });
    x += width + COLUMN_GAP;
  }
  return { nodes, edges, width: Math.max(x - COLUMN_GAP + MARGIN, 200), height: Math.max(height, 100) };
}
