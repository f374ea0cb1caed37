import type { DocsModel } from './model.js';

/** Mermaid label text in double quotes: quotes and angle brackets as entity codes. */
function label(text: string): string {
  return `"${text.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;')}"`;
}

/**
 * A Mermaid flowchart: entry points (stadium) → events (hexagon) → handlers (box, one subgraph per
 * group) → emitted events. Ids are positional in sorted order, so the text is stable.
 */
export function mermaidFlowchart(model: DocsModel): string {
  const { graph } = model;
  const eventId = new Map(graph.events.map((e, i) => [e.type, `e${i}`]));
  const handlerId = new Map(graph.handlers.map((h, i) => [h.name, `h${i}`]));
  const lines = ['flowchart LR'];
  graph.publishers.forEach((p, i) => {
    lines.push(`  p${i}([${label(p.name)}]):::publisher`);
  });
  for (const e of graph.events) {
    lines.push(`  ${eventId.get(e.type)}{{${label(e.type)}}}:::${e.contract ? 'event' : 'missing'}`);
  }
  const groups = [...new Set(graph.handlers.map((h) => h.group))];
  groups.forEach((group, g) => {
    lines.push(`  subgraph g${g}[${label(`group: ${group}`)}]`);
    for (const h of graph.handlers.filter((x) => x.group === group)) {
      lines.push(`    ${handlerId.get(h.name)}[${label(h.name)}]:::handler`);
    }
    lines.push('  end');
  });
  graph.publishers.forEach((p, i) => {
    for (const type of p.publishes) lines.push(`  p${i} --> ${eventId.get(type)}`);
  });
  for (const h of graph.handlers) {
    lines.push(`  ${eventId.get(h.on)} --> ${handlerId.get(h.name)}`);
    for (const type of h.emits) lines.push(`  ${handlerId.get(h.name)} -.-> ${eventId.get(type)}`);
  }
  lines.push(
    '  classDef publisher fill:#eef6ff,stroke:#3b82f6',
    '  classDef event fill:#fff7e6,stroke:#d97706',
    '  classDef missing fill:#fee2e2,stroke:#dc2626,stroke-dasharray:4 3',
    '  classDef handler fill:#ecfdf5,stroke:#059669',
  );
  return `${lines.join('\n')}\n`;
}
