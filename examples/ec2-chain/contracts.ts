// The example chain's contracts: ec2.launch.requested → ec2.instance.launched | ec2.launch.failed → notification.created.
import { defineEvent } from '@org/eventbus';
import { z } from 'zod';

export const Ec2LaunchRequested = defineEvent({
  type: 'ec2.launch.requested',
  version: 1,
  description: 'A user asked for an EC2 instance; the HTTP API answered 202 with the request id.',
  schema: z.object({
    requestId: z.uuid().describe('Returned to the caller in the 202 response; the status URL names it.'),
    userId: z.string().min(1).describe('Who asked, so the outcome can be sent to them.'),
    instanceType: z.enum(['t3.micro', 't3.small', 'm5.large']).describe('EC2 instance type.'),
    imageId: z.string().regex(/^ami-[0-9a-f]{8,17}$/).describe('The AMI to boot.'),
    tags: z.record(z.string(), z.string()).optional().describe('Tags put on the instance.'),
  }),
  example: {
    requestId: '7f1c1a52-4a8e-4d0b-9a55-2b1f3f0c9d11',
    userId: 'user-42',
    instanceType: 't3.micro',
    imageId: 'ami-0abcdef1234567890',
  },
});

export const Ec2InstanceLaunched = defineEvent({
  type: 'ec2.instance.launched',
  version: 1,
  description: 'The instance reached the running state.',
  schema: z.object({
    requestId: z.uuid(),
    userId: z.string().min(1),
    instanceId: z.string().regex(/^i-[0-9a-f]{8,17}$/).describe('The EC2 instance id.'),
    launchedAt: z.iso.datetime().describe('When it reached "running".'),
  }),
  example: {
    requestId: '7f1c1a52-4a8e-4d0b-9a55-2b1f3f0c9d11',
    userId: 'user-42',
    instanceId: 'i-0123456789abcdef0',
    launchedAt: '2025-01-01T12:00:30.000Z',
  },
});

export const Ec2LaunchFailed = defineEvent({
  type: 'ec2.launch.failed',
  version: 1,
  description: 'The launch failed for good (after retries, or at once for a non-retryable error).',
  schema: z.object({
    requestId: z.uuid(),
    userId: z.string().min(1),
    reason: z.string().describe('What EC2 said, for the user.'),
    retryable: z.boolean().describe('Whether asking again may succeed (capacity, throttling).'),
  }),
  example: {
    requestId: '7f1c1a52-4a8e-4d0b-9a55-2b1f3f0c9d11',
    userId: 'user-42',
    reason: 'InsufficientInstanceCapacity: not enough t3.micro capacity in eu-west-1a',
    retryable: true,
  },
});

export const NotificationCreated = defineEvent({
  type: 'notification.created',
  version: 1,
  description: 'A message for a user about the outcome of their request.',
  schema: z.object({
    notificationId: z.uuid(),
    userId: z.string().min(1),
    requestId: z.uuid().describe('The request this notification is about.'),
    level: z.enum(['success', 'error']),
    message: z.string().max(500),
  }),
  example: {
    notificationId: '0b6d2c1e-5f7a-4c3b-8e9d-1a2b3c4d5e6f',
    userId: 'user-42',
    requestId: '7f1c1a52-4a8e-4d0b-9a55-2b1f3f0c9d11',
    level: 'success',
    message: 'Instance i-0123456789abcdef0 is running.',
  },
});

export const contracts = [Ec2LaunchRequested, Ec2InstanceLaunched, Ec2LaunchFailed, NotificationCreated] as const;
