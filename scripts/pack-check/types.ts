// Typechecked without skipLibCheck, with neither vitest nor playwright-core installed.
import { createEventBus, createTransport, defineEvent } from '@org/eventbus';
import { createKafkaTransport } from '@org/eventbus-kafka';
import { createNatsTransport } from '@org/eventbus-nats';
import { createRabbitMqTransport } from '@org/eventbus-rabbitmq';
import { createSqsTransport } from '@org/eventbus-sqs';
import { startEc2Service } from '@org/eventbus-ec2';
import bus from '@org/eventbus-ec2/event-graph';
import { createSpy, runTransportConformance, spawnChildConsumer } from '@org/eventbus/testing';

export const used = [createEventBus, createTransport, defineEvent, createKafkaTransport, createNatsTransport, createRabbitMqTransport];
export const more = [createSqsTransport, startEc2Service, bus, createSpy, runTransportConformance, spawnChildConsumer];
