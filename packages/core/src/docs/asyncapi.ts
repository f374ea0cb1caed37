import type { DocsModel } from './model.js';
import type { JsonSchema } from './schema.js';

/** AsyncAPI keys allow letters, digits, ".", "-" and "_". */
function key(text: string): string {
  return text.replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '') || 'x';
}

/**
 * A payload's own references ("#", "#/definitions/…") point into the payload; inside the AsyncAPI
 * document they must point at the payload's place in it.
 */
function rebaseRefs(value: unknown, base: string): unknown {
  if (Array.isArray(value)) return value.map((v) => rebaseRefs(v, base));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === '$ref' && typeof v === 'string' && (v === '#' || v.startsWith('#/')) ? `${base}${v.slice(1)}` : rebaseRefs(v, base);
  }
  return out;
}

/** The CloudEvents attributes that travel with every event (names as in the structured JSON form). */
const ENVELOPE_HEADERS: JsonSchema = {
  type: 'object',
  description:
    'CloudEvents 1.0 attributes. On the wire each transport uses its binding: Kafka "ce_" headers, NATS "ce-" headers, AMQP "cloudEvents_" headers, structured JSON on SQS/SNS.',
  properties: {
    id: { type: 'string', description: 'Unique per event; consumers deduplicate on it.' },
    source: { type: 'string', description: 'The publishing service, e.g. "/services/ec2-api".' },
    type: { type: 'string', description: 'The event type (the routing key).' },
    specversion: { type: 'string', const: '1.0' },
    time: { type: 'string', format: 'date-time' },
    datacontenttype: { type: 'string', const: 'application/json' },
    dataschema: { type: 'string', description: 'urn:eventbus:<type>:v<version>' },
    correlationid: { type: 'string', description: 'The id of the event that started the chain.' },
    causationid: { type: 'string', description: 'The id of the event whose handler emitted this one.' },
    traceparent: { type: 'string', description: 'W3C trace context of the send span.' },
    tracestate: { type: 'string' },
    partitionkey: { type: 'string', description: 'Ordering key.' },
  },
  required: ['id', 'source', 'type', 'specversion'],
};

/**
 * An AsyncAPI 3.0 document of the whole app: a channel per broker channel, a message per contract,
 * a `send` operation per produced event and a `receive` operation per handler.
 */
export function renderAsyncApi(model: DocsModel): string {
  const { graph } = model;
  const documented = model.events.filter((e) => e.node.contract);
  const channelKey = new Map<string, string>();
  for (const e of documented) {
    const channel = e.node.contract?.channel as string;
    if (!channelKey.has(channel)) channelKey.set(channel, key(channel));
  }
  const channels: Record<string, unknown> = {};
  for (const [channel, id] of [...channelKey].sort((a, b) => (a[1] < b[1] ? -1 : 1))) {
    const onChannel = documented.filter((e) => e.node.contract?.channel === channel);
    channels[id] = {
      address: channel,
      description: onChannel.length === 1 ? onChannel[0]?.node.contract?.description : `Shared by ${onChannel.map((e) => e.node.type).join(', ')}.`,
      messages: Object.fromEntries(onChannel.map((e) => [key(e.node.type), { $ref: `#/components/messages/${key(e.node.type)}` }])),
    };
  }
  const ref = (type: string) => {
    const c = model.byType.get(type)?.node.contract;
    return c ? { channel: key(c.channel), message: key(type) } : undefined;
  };
  const operations: Record<string, unknown> = {};
  for (const e of documented) {
    const r = ref(e.node.type);
    const producers = [...e.node.publishers, ...e.node.emittedBy];
    if (!r || producers.length === 0) continue;
    operations[`send.${key(e.node.type)}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${r.channel}` },
      summary: `Publish ${e.node.type}`,
      description: `Produced by ${producers.join(', ')}.`,
      messages: [{ $ref: `#/channels/${r.channel}/messages/${r.message}` }],
    };
  }
  for (const h of graph.handlers) {
    const r = ref(h.on);
    if (!r) continue;
    let id = `receive.${key(h.group)}.${key(h.name)}`;
    // Free-text names can collide once reduced to key characters: keep every handler.
    for (let n = 2; id in operations; n += 1) id = `receive.${key(h.group)}.${key(h.name)}-${n}`;
    operations[id] = {
      action: 'receive',
      channel: { $ref: `#/channels/${r.channel}` },
      summary: `${h.name} handles ${h.on}`,
      description: `Consumer group "${h.group}".${h.emits.length > 0 ? ` May emit ${h.emits.join(', ')}.` : ''}`,
      messages: [{ $ref: `#/channels/${r.channel}/messages/${r.message}` }],
      'x-eventbus-group': h.group,
      'x-eventbus-emits': [...h.emits],
    };
  }
  const messages: Record<string, unknown> = {};
  for (const e of documented) {
    const c = e.node.contract;
    if (!c) continue;
    messages[key(c.type)] = {
      name: c.type,
      title: c.type,
      summary: c.description,
      contentType: 'application/json',
      headers: ENVELOPE_HEADERS,
      payload: rebaseRefs(e.schema, `#/components/messages/${key(c.type)}/payload`),
      correlationId: { description: 'Shared by every event of one chain.', location: '$message.header#/correlationid' },
      examples: [{ name: 'example', payload: e.example }],
      'x-eventbus-version': c.version,
      'x-eventbus-leads-to': [...e.node.leadsTo],
    };
  }
  const document = {
    asyncapi: '3.0.0',
    info: {
      title: graph.title,
      version: graph.version ?? '1.0.0',
      description: graph.description ?? `Events of ${graph.title}, generated by eventbus docs.`,
    },
    defaultContentType: 'application/json',
    channels,
    operations,
    components: { messages },
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
