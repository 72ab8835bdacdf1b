// OpenTelemetry on send, when the application has `@opentelemetry/api` installed: a
// PRODUCER span `send <topic>` (messaging semantic conventions) and the W3C context
// (`traceparent`, `tracestate`) in the record's headers. Absent: nothing, at no cost.

interface Span {
  end(): void;
  recordException(error: unknown): void;
  setStatus(status: { code: number; message?: string }): void;
}
interface OtelApi {
  trace: {
    getTracer(name: string): {
      startActiveSpan<T>(name: string, options: object, fn: (span: Span) => T): T;
    };
  };
  propagation: { inject(context: unknown, carrier: Record<string, string>): void };
  context: { active(): unknown };
  SpanKind: { PRODUCER: number };
  SpanStatusCode: { ERROR: number };
}

let api: OtelApi | null | undefined;

async function load(): Promise<OtelApi | null> {
  if (api === undefined) {
    const name = '@opentelemetry/api';
    try {
      api = (await import(name)) as OtelApi;
    } catch {
      api = null;
    }
  }
  return api;
}

/** Runs `send(headers)` inside a producer span; `headers` carries the trace context. */
export async function withProducerSpan<T>(
  topic: string,
  tenantId: string,
  notificationId: string,
  send: (headers: Record<string, string>) => Promise<T>,
): Promise<T> {
  const otel = await load();
  if (!otel) return send({});
  const attributes = {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'send',
    'messaging.destination.name': topic,
    'messaging.kafka.message.key': tenantId,
    'messaging.message.id': notificationId,
    'herald.tenant_id': tenantId,
    'herald.notification_id': notificationId,
  };
  const tracer = otel.trace.getTracer('@herald/client');
  return tracer.startActiveSpan(
    `send ${topic}`,
    { kind: otel.SpanKind.PRODUCER, attributes },
    async (span) => {
      const headers: Record<string, string> = {};
      otel.propagation.inject(otel.context.active(), headers);
      try {
        return await send(headers);
      } catch (error) {
        span.recordException(error);
        span.setStatus({ code: otel.SpanStatusCode.ERROR, message: String(error) });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
