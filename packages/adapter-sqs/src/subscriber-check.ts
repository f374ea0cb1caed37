import { ListSubscriptionsByTopicCommand, type SNSClient } from '@aws-sdk/client-sns';
import { awsError } from './errors.js';
import { nameOfArn } from './topology.js';

/** How long a topic seen with a subscription is taken to still have one. */
export const SUBSCRIBED_TTL_MS = 30_000;

/**
 * Whether an SNS topic has at least one subscription, so that a publish no queue would receive
 * is rejected instead of dropped by SNS. A topic seen subscribed is trusted for `ttlMs` (the hot
 * path makes no call); one seen without is asked again on every publish until a group arrives.
 */
export class SubscriberCheck {
  private readonly subscribedAt = new Map<string, number>();
  private readonly asking = new Map<string, Promise<boolean>>();

  constructor(
    private readonly sns: SNSClient,
    private readonly ttlMs = SUBSCRIBED_TTL_MS,
  ) {}

  /** This transport just subscribed a queue to the topic (subscribe, provision): no need to ask. */
  subscribed(topicArn: string): void {
    this.subscribedAt.set(topicArn, Date.now());
  }

  async has(topicArn: string): Promise<boolean> {
    const seen = this.subscribedAt.get(topicArn);
    if (seen !== undefined && Date.now() - seen < this.ttlMs) return true;
    let asking = this.asking.get(topicArn);
    if (!asking) {
      // One question per topic at a time, however many publishes wait on it.
      asking = this.ask(topicArn).finally(() => this.asking.delete(topicArn));
      this.asking.set(topicArn, asking);
    }
    return asking;
  }

  private async ask(topicArn: string): Promise<boolean> {
    let NextToken: string | undefined;
    try {
      do {
        const page = await this.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, ...(NextToken ? { NextToken } : {}) }));
        // An unconfirmed (e-mail, HTTP) subscription receives nothing yet.
        if (page.Subscriptions?.some((s) => s.SubscriptionArn?.startsWith('arn:'))) {
          this.subscribedAt.set(topicArn, Date.now());
          return true;
        }
        NextToken = page.NextToken;
      } while (NextToken);
    } catch (error) {
      throw awsError(`listing the subscriptions of SNS topic "${nameOfArn(topicArn)}"`, error);
    }
    return false;
  }
}
