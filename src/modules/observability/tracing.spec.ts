import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { carrierFor, fromCarrier, tracingConfigured } from './tracing';

const ctx = (traceId: string, spanId: string) => ({ traceId, spanId, traceFlags: TraceFlags.SAMPLED });

describe('tracing configuration and the trace context a job carries', () => {
  it('is off unless OTEL_* ask for traces', () => {
    expect(tracingConfigured({})).toBe(false);
    expect(tracingConfigured({ OTEL_SERVICE_NAME: 'x' })).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingConfigured({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracingConfigured({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(
      false,
    );
    expect(tracingConfigured({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(false);
  });

  it('carries the parent as a W3C traceparent and the other requests as links, and reads them back', () => {
    const parent = ctx('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331');
    const other = ctx('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7');
    const carrier = carrierFor(parent, [parent, other]);
    expect(carrier).toEqual({
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      links: ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    });
    const { parent: back, links } = fromCarrier(carrier);
    expect(trace.getSpanContext(back)).toMatchObject({
      traceId: parent.traceId,
      spanId: parent.spanId,
      isRemote: true,
    });
    expect(links.map((l) => l.context.traceId)).toEqual([other.traceId]);
  });

  it('carries nothing without a span, and ignores a malformed carrier', () => {
    expect(carrierFor(undefined, [])).toBeUndefined();
    expect(fromCarrier(undefined).parent).toBe(ROOT_CONTEXT);
    expect(trace.getSpanContext(fromCarrier({ traceparent: 'garbage' }).parent)).toBeUndefined();
  });
});
