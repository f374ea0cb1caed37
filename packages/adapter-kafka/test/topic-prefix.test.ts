import { ConfigError, type Delivery } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { Admin } from '@platformatic/kafka';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deleteTopology, fromUrl, type KafkaTransport, optionsFromUrl } from '../src/index.js';
import { bodyOf, brokersFrom, deleteRunTopics, FAST_GROUP, message, runId, testTransport } from './helpers.js';

describe('kafka topicPrefix option', () => {
  it('is checked at construction: a ConfigError names it for what Kafka refuses in a topic name', () => {
    for (const bad of ['has space', 'a/b', 'ümlaut.', 'x'.repeat(201)]) {
      expect(() => testTransport('127.0.0.1:9092', { topicPrefix: bad }), bad).toThrow(ConfigError);
      expect(() => testTransport('127.0.0.1:9092', { topicPrefix: bad }), bad).toThrow(/`topicPrefix`/);
    }
    expect(() => fromUrl('kafka://127.0.0.1:9092?topicPrefix=a%2Fb')).toThrow(/`topicPrefix`/);
    expect(() => testTransport('127.0.0.1:9092', { topicPrefix: 'staging.app_1-' })).not.toThrow();
  });

  it('rides in the URL query, and an option next to the URL wins', () => {
    expect(optionsFromUrl('kafka://127.0.0.1:9092?topicPrefix=staging.').topicPrefix).toBe('staging.');
    // The URL is the deployment's configuration: it wins over options given in code, as on every adapter.
    expect(optionsFromUrl('kafka://127.0.0.1:9092?topicPrefix=staging.', { topicPrefix: 'prod.' }).topicPrefix).toBe('staging.');
    expect(optionsFromUrl('kafka://127.0.0.1:9092', { topicPrefix: 'prod.' }).topicPrefix).toBe('prod.');
    expect(() => optionsFromUrl('kafka://127.0.0.1:9092?topicprefix=x')).toThrow(/unknown parameter\(s\) "topicprefix"/);
  });
});

describeBroker('kafka topicPrefix', { variable: 'EVENTBUS_KAFKA_BROKERS' }, (brokers) => {
  const open: KafkaTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(() => deleteRunTopics(brokers()), 60_000);

  it('deleteTopology removes the topics and groups of one prefix, and nothing of another', async () => {
    const id = runId();
    const [gone, kept] = [`del${id}.`, `keep${id}.`];
    const transports = [gone, kept].map((topicPrefix) => testTransport(brokers(), { topicPrefix, partitions: 1 }));
    open.push(...transports);
    for (const t of transports) {
      await t.subscribe({ group: `g-${id}`, channels: [`kt-${id}-del`], prefetch: 1 }, (d) => d.ack());
      await t.publish([message(`kt-${id}-del`, 1)]);
    }
    await Promise.all(open.splice(0).map((t) => t.close()));
    await expect(deleteTopology({ brokers: brokersFrom(brokers()), topicPrefix: '' })).rejects.toThrow(/`topicPrefix`/);
    await deleteTopology({ brokers: brokersFrom(brokers()), topicPrefix: gone });
    const admin = new Admin({ clientId: `kt-${id}`, bootstrapBrokers: brokersFrom(brokers()) });
    try {
      const topics = await admin.listTopics();
      expect(topics.filter((t) => t.startsWith(gone))).toEqual([]);
      expect(topics.filter((t) => t.startsWith(kept)).length).toBeGreaterThanOrEqual(3);
      expect([...(await admin.listGroups()).keys()].filter((g) => g.startsWith(gone))).toEqual([]);
    } finally {
      await admin.close();
      await deleteTopology({ brokers: brokersFrom(brokers()), topicPrefix: kept });
    }
  }, 60_000);

  it('isolates two transports on one cluster: each its own topics, groups and events', async () => {
    const id = runId();
    const channel = `kt-${id}-iso`;
    const group = `g-${id}`;
    const prefixA = `a${id}.`;
    const prefixB = `b${id}-`;
    // One partition each, so B's events sit before A's on the topic they would share without prefixes.
    const a = testTransport(brokers(), { topicPrefix: prefixA, partitions: 1 });
    const b = fromUrl(`kafka://${brokersFrom(brokers()).join(',')}?topicPrefix=${prefixB}&partitions=1`, FAST_GROUP) as KafkaTransport;
    open.push(a, b);
    await Promise.all([a.connect(), b.connect()]);

    const seenA = createSpy<Delivery>();
    const seenB = createSpy<Delivery>();
    const deadA = createSpy<Delivery>();
    await a.subscribe({ group, channels: [channel], prefetch: 10 }, async (d) => {
      seenA.fn(d);
      const { n } = bodyOf(d.message.body);
      // n = 2 goes round A's retry topic, n = 3 into A's dead-letter topic.
      if (n === 2 && d.attempt === 1) await d.nack({ delayMs: 10 });
      else if (n === 3) await d.deadLetter('refused by A');
      else await d.ack();
    });
    await b.subscribe({ group, channels: [channel], prefetch: 10 }, async (d) => {
      seenB.fn(d);
      await d.ack();
    });
    await a.subscribe({ group, channels: [], prefetch: 5, deadLetters: true }, async (d) => {
      deadA.fn(d);
      await d.ack();
    });
    await b.publish([message(channel, 101), message(channel, 102)]);
    await a.publish([1, 2, 3].map((n) => message(channel, n)));

    const nsOf = (ds: readonly Delivery[]) => ds.map((d) => bodyOf(d.message.body).n);
    const calls = await seenA.waitFor((ds) => nsOf(ds).filter((n) => n === 2).length === 2 && nsOf(ds).includes(3), {
      timeoutMs: 20_000,
      description: "A's events, n = 2 twice (retried)",
    });
    await seenB.waitForCount(2, { timeoutMs: 20_000 });
    const [dead] = await deadA.waitForCount(1, { timeoutMs: 20_000 });

    expect(nsOf(calls).sort()).toEqual([1, 2, 2, 3]);
    expect(nsOf(seenB.calls).sort()).toEqual([101, 102]);
    // The bus sees its channel name, never the prefixed topic, on first delivery, retry and dead letter.
    expect(new Set([...calls, ...seenB.calls, dead!].map((d) => d.message.channel))).toEqual(new Set([channel]));
    expect(bodyOf(dead!.message.body).n).toBe(3);

    const admin = new Admin({ clientId: `kt-${id}`, bootstrapBrokers: brokersFrom(brokers()) });
    try {
      const topics = new Set(await admin.listTopics());
      const groups = new Set((await admin.listGroups()).keys());
      for (const prefix of [prefixA, prefixB]) {
        for (const topic of [channel, `${group}.retry`, `${group}.dlt`]) expect(topics, `${prefix}${topic}`).toContain(`${prefix}${topic}`);
        expect(groups).toContain(`${prefix}${group}`);
      }
      expect(groups).toContain(`${prefixA}${group}.dlt`);
      for (const unprefixed of [channel, `${group}.retry`, `${group}.dlt`]) expect(topics.has(unprefixed), unprefixed).toBe(false);
      expect(groups.has(group)).toBe(false);
    } finally {
      await admin.close();
    }
  }, 60_000);
});
