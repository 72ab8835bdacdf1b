// The clients' trace injection: with OpenTelemetry registered by the application, send
// runs inside a PRODUCER span under the caller's span and the record's headers carry it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { context, propagation, trace, SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { withProducerSpan } from '../src/trace.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(provider);

test('send injects the W3C context of its PRODUCER span', async () => {
  const tracer = trace.getTracer('billing');
  let sentHeaders: Record<string, string> = {};
  await tracer.startActiveSpan('checkout', async (root) => {
    await withProducerSpan('notifications.requests', 'acme', 'n1', async (headers) => {
      sentHeaders = headers;
    });
    root.end();
  });
  const spans = exporter.getFinishedSpans();
  const root = spans.find((s) => s.name === 'checkout');
  const send = spans.find((s) => s.name === 'send notifications.requests');
  assert.ok(root && send);
  assert.equal(send.kind, SpanKind.PRODUCER);
  assert.equal(send.parentSpanContext?.spanId, root.spanContext().spanId);
  assert.equal(send.attributes['messaging.system'], 'kafka');
  assert.equal(send.attributes['messaging.kafka.message.key'], 'acme');
  const [version, traceId, spanId] = (sentHeaders.traceparent ?? '').split('-');
  assert.deepEqual([version, traceId, spanId], ['00', root.spanContext().traceId, send.spanContext().spanId]);
});

test('a failed send ends its span with an error', async () => {
  exporter.reset();
  await assert.rejects(
    withProducerSpan('t', 'acme', 'n2', async () => {
      throw new Error('broker down');
    }),
    /broker down/,
  );
  const [span] = exporter.getFinishedSpans();
  assert.equal(span?.status.code, 2); // SpanStatusCode.ERROR
});
