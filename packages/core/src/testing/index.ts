export { type ConformanceOptions, type Endpoint, SCENARIOS, type ScenarioName, type TransportFactory } from './conformance/options.js';
export { runTransportConformance } from './conformance/suite.js';
export {
  type DelayedDeliveryOptions,
  type DelayedDeliveryReport,
  formatDelayReport,
  measureDelayedDelivery,
} from './conformance/delay-lateness.js';
export { type ChildConsumer, spawnChildConsumer } from './child.js';
export { createSpy, eventually, Spy, type WaitOptions } from './spy.js';
export { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
export { type BrokerSource, brokerUrlFromEnv, describeBroker } from './env.js';
export {
  CLUSTER_BROKERS,
  type Cluster,
  type ClusterBroker,
  type ClusterHandle,
  clusterSelection,
  describeCluster,
  type StartClusterOptions,
  startCluster,
} from './cluster.js';
export {
  type ClusterFailoverOptions,
  type ClusterFailoverResult,
  clusterFailoverScenario,
  longestGap,
} from './conformance/scenarios-cluster.js';
