export { AwsLauncher, type AwsLauncherOptions, type Ec2Api } from './aws-launcher.js';
export { contracts, Ec2InstanceLaunched, Ec2LaunchFailed, Ec2LaunchRequested, LaunchInput, NotificationCreated } from './contracts.js';
export { registerLaunchHandler, registerNotificationHandlers, type WorkerOptions } from './handlers.js';
export { createHttpServer, type HttpOptions } from './http.js';
export { EC2_API_KEY, type LaunchGuardOptions, launchGuards } from './launch-guards.js';
export { type Launcher, LaunchRejectedError, type LaunchResult, type LaunchSpec, LaunchThrottledError } from './launcher.js';
export { launcherFromEnv } from './launcher-from-env.js';
export { type RedisLike, RedisRequestStore, type RedisRequestStoreOptions } from './redis-request-store.js';
export {
  MemoryRequestStore,
  type Notification,
  type RequestRecord,
  type RequestStatus,
  type RequestStep,
  type RequestStore,
  type RequestSummary,
} from './request-store.js';
export { buildEc2Bus, type Ec2Bus, type Ec2Service, type Ec2ServiceOptions, ROLES, type Role, startEc2Service } from './service.js';
export { SimulatedLauncher, type SimulatedLauncherOptions } from './simulated-launcher.js';
export { SseHub } from './sse-hub.js';
export { type DemoOptions, type DemoSummary, runDemo } from './demo.js';
export { connectSse, type ServerSentEvent, type SseConnection } from './sse-client.js';
