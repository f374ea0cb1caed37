import { ConfigError } from '@org/eventbus';
import { describe, expect, it } from 'vitest';
import { optionsFromUrl, resolveOptions } from '../src/options.js';
import { replicasFor, reportedClusterSize } from '../src/topology.js';

const resolved = (options: Record<string, unknown>) => resolveOptions({ servers: 'nats://127.0.0.1:4222', ...options });

describe('nats replicas', () => {
  it("the cluster size is the servers the reached server lists in connect_urls; 1 outside a cluster", () => {
    expect(reportedClusterSize({ cluster: 'c', connect_urls: ['a:1', 'b:1', 'c:1'] })).toBe(3);
    expect(reportedClusterSize({ connect_urls: ['a:1'] })).toBe(1);
    expect(reportedClusterSize({ cluster: 'c' })).toBe(1);
    expect(reportedClusterSize(undefined)).toBe(1);
  });

  it("'auto' (the default) gives 3 copies on a cluster of 3 or more, the cluster's size below that", () => {
    const auto = resolved({});
    expect(auto.replicas).toBe('auto');
    expect([1, 2, 3, 5].map((size) => replicasFor(auto, size).stream)).toEqual([1, 2, 3, 3]);
    expect(replicasFor(auto, 3)).toEqual({ stream: 3, consumer: 0, explicit: false });
  });

  it('a number larger than the cluster the server reports is a ConfigError naming replicas and the size', () => {
    expect(replicasFor(resolved({ replicas: 3 }), 3)).toEqual({ stream: 3, consumer: 0, explicit: true });
    expect(() => replicasFor(resolved({ replicas: 3 }), 1)).toThrow(ConfigError);
    expect(() => replicasFor(resolved({ replicas: 3 }), 1)).toThrow(/replicas.*cluster of 1 server/);
    expect(() => replicasFor(resolved({ consumerReplicas: 3 }), 1)).toThrow(/consumerReplicas.*1 replica/);
  });

  it('bad values fail at construction naming the option', () => {
    expect(() => resolved({ replicas: 0 })).toThrow(/replicas.*from 1 to 5/);
    expect(() => resolved({ replicas: 7 })).toThrow(/replicas.*from 1 to 5/);
    expect(() => resolved({ replicas: 'three' })).toThrow(ConfigError);
    expect(() => resolved({ replicas: 1, consumerReplicas: 3 })).toThrow(/consumerReplicas.*more than the stream/);
  });

  it('a seed-list URL carries every node and the replicas', () => {
    const options = optionsFromUrl('nats://127.0.0.1:14222,127.0.0.1:14223,127.0.0.1:14224?replicas=3&consumerReplicas=3');
    expect(options.servers).toEqual(['nats://127.0.0.1:14222', 'nats://127.0.0.1:14223', 'nats://127.0.0.1:14224']);
    expect(resolveOptions(options)).toMatchObject({ replicas: 3, consumerReplicas: 3 });
    expect(resolveOptions(optionsFromUrl('nats://h:1?replicas=auto')).replicas).toBe('auto');
  });
});
