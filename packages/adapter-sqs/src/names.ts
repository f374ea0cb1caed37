import { createHash } from 'node:crypto';

/** SQS queue names are at most 80 characters (".fifo" included); topics share the rule to stay readable. */
const MAX_NAME = 80;
const DLQ_SUFFIX = '-dlq';

/**
 * A valid SNS/SQS name for a channel or group: letters, digits, "-" and "_" are kept; anything
 * else (dots in "ec2.launch.requested") becomes "_", and then a short hash of the original is added
 * so two names that differ only there never share a resource.
 */
export function resourceName(prefix: string, name: string, fifo: boolean): string {
  const suffix = fifo ? '.fifo' : '';
  const room = MAX_NAME - suffix.length - DLQ_SUFFIX.length;
  const clean = `${prefix}${name}`.replace(/[^A-Za-z0-9_-]/g, '_');
  if (clean === `${prefix}${name}` && clean.length <= room) return clean + suffix;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${clean.slice(0, room - hash.length - 1)}-${hash}${suffix}`;
}

/** The dead-letter queue's name for a group queue's name. */
export function deadLetterName(queueName: string): string {
  return queueName.endsWith('.fifo') ? `${queueName.slice(0, -5)}${DLQ_SUFFIX}.fifo` : `${queueName}${DLQ_SUFFIX}`;
}

/** The last segment of an ARN (a queue's or topic's name). */
export function nameOfArn(arn: string): string {
  return arn.slice(arn.lastIndexOf(':') + 1);
}

/**
 * A value SQS accepts as a FIFO message group or deduplication id (1–128 printable ASCII
 * characters); anything else is replaced by its hash, so one key still maps to one group.
 */
export function fifoId(value: string): string {
  return /^[\x21-\x7E]{1,128}$/.test(value) ? value : createHash('sha256').update(value).digest('hex');
}
