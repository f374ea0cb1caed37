import { ConfigError } from '@org/eventbus';
import { describe, expect, it } from 'vitest';
import { KafkaTransport, optionsFromUrl } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { replicationFor } from '../src/topology.js';

const auto = { replicationFactor: 'auto', minInsyncReplicas: 'auto' } as const;

describe('kafka replication defaults (broker-free)', () => {
  it("'auto' follows the live brokers: 3 copies with min.insync 2 on 3+, 2/1 on two, 1/1 on one", () => {
    expect(replicationFor(auto, 5)).toEqual({ replicas: 3, minInsync: 2 });
    expect(replicationFor(auto, 3)).toEqual({ replicas: 3, minInsync: 2 });
    expect(replicationFor(auto, 2)).toEqual({ replicas: 2, minInsync: 1 });
    expect(replicationFor(auto, 1)).toEqual({ replicas: 1, minInsync: 1 });
  });

  it('numbers are taken as given when the cluster has room for them', () => {
    expect(replicationFor({ replicationFactor: 2, minInsyncReplicas: 'auto' }, 3)).toEqual({ replicas: 2, minInsync: 1 });
    expect(replicationFor({ replicationFactor: 3, minInsyncReplicas: 3 }, 3)).toEqual({ replicas: 3, minInsync: 3 });
    expect(replicationFor({ replicationFactor: 'auto', minInsyncReplicas: 1 }, 3)).toEqual({ replicas: 3, minInsync: 1 });
  });

  it('a replication factor above the live brokers is a ConfigError naming replicationFactor', () => {
    const error = (() => {
      try {
        return replicationFor({ replicationFactor: 3, minInsyncReplicas: 'auto' }, 1);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(/replicationFactor.*is 3, but the cluster reports 1 live broker/);
  });

  it("minInsyncReplicas above the copies a topic gets: at construction when both are numbers, else at creation", () => {
    expect(() => new KafkaTransport({ brokers: ['127.0.0.1:9092'], replicationFactor: 2, minInsyncReplicas: 3 })).toThrow(
      /minInsyncReplicas.*more than replicationFactor \(2\)/,
    );
    expect(() => replicationFor({ replicationFactor: 'auto', minInsyncReplicas: 2 }, 1)).toThrow(ConfigError);
    expect(() => replicationFor({ replicationFactor: 'auto', minInsyncReplicas: 2 }, 1)).toThrow(/minInsyncReplicas/);
  });

  it('bad values fail at construction naming the option; the URL carries both, auto or a number', () => {
    expect(() => new KafkaTransport({ brokers: ['127.0.0.1:9092'], replicationFactor: 0 })).toThrow(/replicationFactor/);
    expect(() => new KafkaTransport({ brokers: ['127.0.0.1:9092'], minInsyncReplicas: 1.5 })).toThrow(/minInsyncReplicas/);
    const fromUrl = resolveOptions(optionsFromUrl('kafka://a:1,b:2,c:3?replicationFactor=3&minInsyncReplicas=auto'));
    expect(fromUrl).toMatchObject({ brokers: ['a:1', 'b:2', 'c:3'], replicationFactor: 3, minInsyncReplicas: 'auto' });
    expect(resolveOptions({ brokers: ['a:1'] })).toMatchObject(auto);
    expect(() => resolveOptions(optionsFromUrl('kafka://a:1?replicationFactor=three'))).toThrow(/replicationFactor/);
  });
});
