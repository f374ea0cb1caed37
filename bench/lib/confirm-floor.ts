// The broker's own share of a confirmed publish: a bare amqplib confirm channel publishing the
// POST's message (same headers, persistent, same exchange and durable queue) at the bench's paced
// rate, with no HTTP and no bus. No server on this broker can answer faster than this wait.
import amqplib from 'amqplib';
import { percentile } from './report.js';

export interface ConfirmFloor {
  p50: number;
  p99: number;
  max: number;
}

export async function confirmFloor(url: string, exchange: string, routingKey: string, rate: number, seconds: number): Promise<ConfirmFloor> {
  const connection = await amqplib.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    const body = Buffer.from(JSON.stringify({ userId: 'bench', imageId: 'ami-0123456789abcdef0', instanceType: 't3.micro' }));
    const total = rate * seconds;
    const samples: number[] = [];
    const confirms: Promise<void>[] = [];
    const started = performance.now();
    for (let i = 0; i < total; i++) {
      const wait = started + (i * 1000) / rate - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const id = `floor-${i}`;
      const sent = performance.now();
      const headers = {
        cloudEvents_specversion: '1.0',
        cloudEvents_id: id,
        cloudEvents_source: '/services/ec2',
        cloudEvents_type: 'ec2.launch.requested',
        cloudEvents_time: new Date().toISOString(),
      };
      confirms.push(
        new Promise((resolve, reject) =>
          channel.publish(exchange, routingKey, body, { persistent: true, messageId: id, contentType: 'application/json', headers }, (error) => {
            if (error) reject(error);
            samples.push(performance.now() - sent);
            resolve();
          }),
        ),
      );
    }
    await Promise.all(confirms);
    samples.sort((a, b) => a - b);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1] ?? Number.NaN };
  } finally {
    await connection.close();
  }
}
