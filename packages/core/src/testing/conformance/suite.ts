import type { ConformanceOptions, TransportFactory } from './options.js';

/** Placeholder while the scenarios are written; see DESIGN.md's conformance list. */
export function runTransportConformance(_name: string, _factory: TransportFactory, _options: ConformanceOptions = {}): void {
  throw new Error('runTransportConformance: not implemented yet');
}
