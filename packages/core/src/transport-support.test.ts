import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { checkSubscribeOptions, PendingWork } from './transport-support.js';

describe('checkSubscribeOptions', () => {
  it.each([
    [{ group: '', channels: ['c'], prefetch: 1 }, /`group`/],
    [{ group: 'g', channels: ['c'], prefetch: 0 }, /`prefetch`/],
    [{ group: 'g', channels: ['c'], prefetch: 1.5 }, /`prefetch`/],
    [{ group: 'g', channels: [], prefetch: 1 }, /`channels`/],
  ])('names the bad option (%#)', (options, message) => {
    expect(() => checkSubscribeOptions(options)).toThrow(ConfigError);
    expect(() => checkSubscribeOptions(options)).toThrow(message);
  });

  it('a dead-letter reader needs no channels', () => {
    expect(() => checkSubscribeOptions({ group: 'g', channels: [], prefetch: 1, deadLetters: true })).not.toThrow();
  });
});

describe('PendingWork', () => {
  it('waits for tracked work, failed or not, and forgets it once settled', async () => {
    const work = new PendingWork();
    let finish: () => void = () => {};
    const slow = work.track(new Promise<void>((r) => {
      finish = r;
    }));
    const failing = work.track(Promise.reject(new Error('nacked')));
    await expect(failing).rejects.toThrow('nacked');
    let done = false;
    const settled = work.settled().then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    finish();
    await slow;
    await settled;
    expect(work.size).toBe(0);
  });
});
