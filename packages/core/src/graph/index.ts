export { buildEventGraph } from './build.js';
export { type DescribeOptions, describeApp, registryFromModule } from './describe-app.js';
export type { EventGraph, EventNode, Finding, FindingCode, HandlerNode, PublisherNode } from './model.js';
export { declarePublisher, type Publisher, type PublisherOptions, publishersOf } from './publisher.js';
export {
  defineRegistry,
  type EventRef,
  type EventRegistry,
  type HandlerDeclaration,
  type PublisherDeclaration,
  type RegistryInput,
} from './registry.js';
