import protobuf from 'protobufjs';

/**
 * The messages of OTLP/HTTP that the service reads and answers, written out from the
 * OpenTelemetry protocol definitions (opentelemetry-proto, Apache-2.0): same packages, message
 * names and field numbers; the fields this service never reads (links, dropped counts, trace
 * state, schema URLs) are left out, and protobuf skips them on the wire.
 */
const OTLP_PROTO = `
syntax = "proto3";
package opentelemetry.proto;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
message Resource { repeated KeyValue attributes = 1; }

message Status { string message = 2; int32 code = 3; }
message SpanEvent { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  repeated SpanEvent events = 11;
  Status status = 15;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }
message ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }

message LogRecord {
  fixed64 time_unix_nano = 1;
  fixed64 observed_time_unix_nano = 11;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  bytes trace_id = 9;
  bytes span_id = 10;
  string event_name = 12;
}
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ExportLogsPartialSuccess { int64 rejected_log_records = 1; string error_message = 2; }
message ExportLogsServiceResponse { ExportLogsPartialSuccess partial_success = 1; }
`;

const root = protobuf.parse(OTLP_PROTO, { keepCase: false }).root;
const type = (name: string) => root.lookupType(`opentelemetry.proto.${name}`);

const TYPES = {
  traces: { request: type('ExportTraceServiceRequest'), response: type('ExportTraceServiceResponse') },
  logs: { request: type('ExportLogsServiceRequest'), response: type('ExportLogsServiceResponse') },
};

export type OtlpSignal = keyof typeof TYPES;

/**
 * A protobuf export request as the object OTLP/JSON spells it (lowerCamelCase fields, 64-bit
 * integers as strings, enums as numbers), except that bytes come as base64 strings: trace and span
 * ids are turned to hex by the reader. Throws on bytes that are not the message.
 */
export function decodeProtobufRequest(signal: OtlpSignal, bytes: Uint8Array): Record<string, unknown> {
  const t = TYPES[signal].request;
  return t.toObject(t.decode(bytes), { longs: String, enums: Number, bytes: String, defaults: false });
}

/** The export answer, protobuf-encoded: an empty message, or a partial success. */
export function encodeProtobufResponse(signal: OtlpSignal, answer: Record<string, unknown>): Buffer {
  const t = TYPES[signal].response;
  return Buffer.from(t.encode(t.fromObject(answer)).finish());
}
