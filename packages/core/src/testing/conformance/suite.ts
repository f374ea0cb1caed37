import { afterEach, describe, it } from 'vitest';
import { Harness } from './harness.js';
import type { ConformanceOptions, TransportFactory } from './options.js';
import type { Scenario } from './scenario.js';
import { deadLetterScenarios } from './scenarios-dead-letters.js';
import { delayScenarios } from './scenarios-delays.js';
import { deliveryScenarios } from './scenarios-delivery.js';
import { edgeScenarios } from './scenarios-edges.js';
import { emitScenarios } from './scenarios-emits.js';
import { failureScenarios } from './scenarios-failure.js';
import { faultScenarios } from './scenarios-faults.js';
import { lifecycleScenarios } from './scenarios-lifecycle.js';
import { memberScenarios } from './scenarios-members.js';
import { metricsScenarios } from './scenarios-metrics.js';

export const ALL_SCENARIOS: readonly Scenario[] = [
  ...deliveryScenarios,
  ...lifecycleScenarios,
  ...failureScenarios,
  ...faultScenarios,
  ...edgeScenarios,
  ...memberScenarios,
  ...emitScenarios,
  ...metricsScenarios,
  ...deadLetterScenarios,
  ...delayScenarios,
];

class ScenarioSkipped extends Error {}

/**
 * Every transport runs this same suite against its real broker (the scenarios listed in docs/architecture.md).
 * A scenario the broker cannot support is skipped visibly, by option or by capability flag.
 */
export function runTransportConformance(name: string, factory: TransportFactory, options: ConformanceOptions = {}): void {
  const timeout = options.timeoutMs ?? 60_000;
  describe(`transport conformance: ${name}`, () => {
    let harness: Harness | undefined;
    afterEach(async () => {
      await harness?.cleanup();
      harness = undefined;
    }, 60_000);
    for (const scenario of ALL_SCENARIOS) {
      const skipReason = options.skip?.[scenario.name];
      const title = skipReason ? `${scenario.title} — skipped: ${skipReason}` : scenario.title;
      it.skipIf(skipReason !== undefined)(
        `${scenario.name}: ${title}`,
        async (ctx) => {
          harness = new Harness(factory, options.cleanup);
          const env = {
            options,
            skip(reason: string): never {
              ctx.skip(reason);
              throw new ScenarioSkipped(reason);
            },
          };
          await scenario.run(harness, env);
        },
        scenario.slow ? timeout * 4 : timeout,
      );
    }
  });
}
