import { defineEvent } from '@org/eventbus';
import { z } from 'zod';

/** What a caller may ask for: validated by the HTTP API (400 with the issues) and again by the contract. */
export const LaunchInput = z.object({
  userId: z.string().min(1).max(128).default('anonymous'),
  /** An AMI id such as ami-0abcdef1234567890. */
  imageId: z.string().regex(/^ami-[0-9a-f]{8,17}$/, 'must look like ami-0123456789abcdef0'),
  instanceType: z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'must look like t3.micro'),
  tags: z.record(z.string().min(1).max(128), z.string().max(256)).default({}),
});
export type LaunchInput = z.output<typeof LaunchInput>;

export const Ec2LaunchRequested = defineEvent({
  type: 'ec2.launch.requested',
  version: 1,
  description:
    'A user asked for an EC2 instance. Published by the HTTP API before it answers 202; the launch worker runs RunInstances with the event id as ClientToken.',
  schema: LaunchInput.extend({ requestId: z.string().min(1).max(64) }),
  example: { requestId: 'r-1', userId: 'u-42', imageId: 'ami-0123456789abcdef0', instanceType: 't3.micro', tags: {} },
});

export const Ec2InstanceLaunched = defineEvent({
  type: 'ec2.instance.launched',
  version: 1,
  description: 'The instance reached "running". Emitted by the launch worker.',
  schema: z.object({
    requestId: z.string(),
    userId: z.string(),
    instanceIds: z.array(z.string()).min(1),
    launcher: z.string(),
    durationMs: z.number().nonnegative(),
  }),
  example: { requestId: 'r-1', userId: 'u-42', instanceIds: ['i-0abc'], launcher: 'simulated', durationMs: 3000 },
});

export const Ec2LaunchFailed = defineEvent({
  type: 'ec2.launch.failed',
  version: 1,
  description:
    'The launch cannot succeed: EC2 refused it for good, or every retry failed. Emitted by the launch worker so the user hears about it.',
  schema: z.object({
    requestId: z.string(),
    userId: z.string(),
    reason: z.string(),
    code: z.string().optional(),
    attempts: z.number().int().positive(),
  }),
  example: { requestId: 'r-1', userId: 'u-42', reason: 'InsufficientInstanceCapacity', attempts: 1 },
});

export const NotificationCreated = defineEvent({
  type: 'notification.created',
  version: 1,
  description:
    'A notification for the user about their request (the seed\'s "CreateAlarm" step). The API streams it over Server-Sent Events.',
  schema: z.object({
    notificationId: z.string(),
    requestId: z.string(),
    userId: z.string(),
    level: z.enum(['success', 'error']),
    message: z.string(),
    instanceIds: z.array(z.string()).default([]),
    createdAt: z.string(),
  }),
  example: {
    notificationId: 'n-1',
    requestId: 'r-1',
    userId: 'u-42',
    level: 'success',
    message: 'Instance i-0abc is running',
    instanceIds: ['i-0abc'],
    createdAt: '2026-01-01T00:00:00.000Z',
  },
});

export const contracts = [Ec2LaunchRequested, Ec2InstanceLaunched, Ec2LaunchFailed, NotificationCreated] as const;

/** The CloudEvents `source` of every event the service publishes (through the bus or its outbox). */
export const EC2_SOURCE = '/services/ec2';
