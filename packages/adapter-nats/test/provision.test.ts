import type { Delivery } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { expect, it } from 'vitest';
import { streamNameFor } from '../src/options.js';
import { groupDurable } from '../src/wire.js';
import { cloudEventMessage, type Fixture, URL_VARIABLE, withPlainClient } from './helpers.js';

describeBroker('NATS: publish with no group bound, and provision()', { variable: URL_VARIABLE }, (url) => {
  const { fixture, client } = withPlainClient(url);

  async function consume(transport: ReturnType<Fixture['transport']>, group: string, channel: string) {
    const seen = createSpy<Delivery>();
    await transport.subscribe({ group, channels: [channel], prefetch: 5 }, async (d) => {
      seen.fn(d);
      await d.ack();
    });
    return seen;
  }

  it("capabilities say 'kept': an event published before any group exists goes to the first group that subscribes", async () => {
    const transport = fixture.transport();
    expect(transport.capabilities.unroutedPublish).toBe('kept');
    const channel = fixture.name('unbound');
    const early = cloudEventMessage(channel, 'before anyone');
    await transport.publish([early]);
    const first = await consume(fixture.transport(), fixture.name('first'), channel);
    const [delivery] = await first.waitForCount(1);
    expect(delivery!.message.headers['ce-id']).toBe(early.id);
    // A group that joins later still starts at the oldest message the stream holds.
    const later = await consume(fixture.transport(), fixture.name('later'), channel);
    await later.waitFor((calls) => calls.some((d) => d.message.headers['ce-id'] === early.id));
  });

  it("provision() creates each group's durable consumers as subscribe does, idempotently, without consuming", async () => {
    const transport = fixture.transport();
    const group = fixture.name('prov');
    const channels = [fixture.name('prov.a'), fixture.name('prov.b')];
    await transport.provision([{ group, channels }]);
    await transport.provision([{ group, channels, types: ['test.event'] }]);
    const jsm = await jetstreamManager(client());
    for (const channel of channels) {
      const info = await jsm.consumers.info(streamNameFor(fixture.prefix), groupDurable(group, channel));
      expect(info.config.filter_subject).toBe(`${fixture.prefix}.${channel}`);
      expect(info.config.max_deliver).toBe(-1);
      expect(info.num_ack_pending).toBe(0);
    }
    await transport.publish([cloudEventMessage(channels[0]!, 'kept')]);
    const info = await jsm.consumers.info(streamNameFor(fixture.prefix), groupDurable(group, channels[0]!));
    expect(info.num_pending).toBe(1);
    expect(info.num_ack_pending).toBe(0);
  });

  it("with deliverPolicy 'new', a provisioned group keeps what was published before its first worker; an unprovisioned one does not", async () => {
    const options = { deliverPolicy: 'new' as const };
    const api = fixture.transport(options);
    const channel = fixture.name('deploy');
    const [provisioned, unprovisioned] = [fixture.name('worker'), fixture.name('late')];
    await api.provision([{ group: provisioned, channels: [channel] }]);
    const event = cloudEventMessage(channel, 'published before the workers start');
    await api.publish([event]);
    const worker = await consume(fixture.transport(options), provisioned, channel);
    const [delivery] = await worker.waitForCount(1);
    expect(delivery!.message.headers['ce-id']).toBe(event.id);
    const late = await consume(fixture.transport(options), unprovisioned, channel);
    await late.expectNone(() => true, 500);
  });

  it('a backoff table gets the largest finite max_deliver (the server refuses -1 with one)', async () => {
    const transport = fixture.transport({ backoffMs: [1000, 2000] });
    const group = fixture.name('backoff');
    const channel = fixture.name('backoff');
    await transport.provision([{ group, channels: [channel] }]);
    const info = await (await jetstreamManager(client())).consumers.info(streamNameFor(fixture.prefix), groupDurable(group, channel));
    expect(info.config.max_deliver).toBe(2_147_483_647);
    expect(info.config.backoff).toHaveLength(2);
  });
});
