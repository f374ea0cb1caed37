import type { EventGraph, EventNode } from '../graph/model.js';
import { contractExample, contractJsonSchema, type JsonSchema, type SchemaRow, schemaRows } from './schema.js';

/** An event with everything the generators print about it, computed once. */
export interface DocumentedEvent {
  readonly node: EventNode;
  readonly schema?: JsonSchema;
  readonly rows: readonly SchemaRow[];
  readonly example?: unknown;
  /** False when an example made from the schema misses a constraint (a pattern, a refinement). */
  readonly exampleValid: boolean;
  /** Stable, safe id for diagrams, anchors and AsyncAPI keys. */
  readonly id: string;
}

export interface DocsModel {
  readonly graph: EventGraph;
  readonly events: readonly DocumentedEvent[];
  readonly byType: ReadonlyMap<string, DocumentedEvent>;
}

/** "ec2.launch.requested" → "ec2-launch-requested": safe in HTML ids, Markdown anchors and AsyncAPI keys. */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

export function documentGraph(graph: EventGraph): DocsModel {
  const used = new Set<string>();
  const events = graph.events.map((node): DocumentedEvent => {
    let id = slug(node.type) || 'event';
    // "a.b" and "a-b" share a slug; keep ids unique in sorted (stable) order.
    for (let n = 2; used.has(id); n += 1) id = `${slug(node.type) || 'event'}-${n}`;
    used.add(id);
    if (!node.contract) return { node, rows: [], id, exampleValid: false };
    const schema = contractJsonSchema(node.contract);
    const example = contractExample(node.contract, schema);
    const exampleValid = node.contract.schema.safeParse(example).success;
    return { node, schema, rows: schemaRows(schema), example, exampleValid, id };
  });
  return { graph, events, byType: new Map(events.map((e) => [e.node.type, e])) };
}
