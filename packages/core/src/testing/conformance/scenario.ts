import type { Harness } from './harness.js';
import type { ConformanceOptions, ScenarioName } from './options.js';

export interface ScenarioEnv {
  readonly options: ConformanceOptions;
  /** Skip this scenario visibly at run time (a capability the transport reports it lacks). */
  skip(reason: string): never;
}

export interface Scenario {
  readonly name: ScenarioName;
  readonly title: string;
  /** Extra time on top of the suite's per-test timeout. */
  readonly slow?: boolean;
  run(harness: Harness, env: ScenarioEnv): Promise<void>;
}

/** Throws with a message that says what went wrong, for checks outside expect(). */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
