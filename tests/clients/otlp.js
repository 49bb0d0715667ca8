// OpenTelemetry's Node SDK sending every signal to the extension's OTLP/HTTP receiver (its
// HTTP exporters send OTLP JSON). usage: node otlp.js <http endpoint>
// The same spans, metrics and logs as otlp.py; prints `trace=<hex>` and `name=<span id>` lines.
'use strict'
const api = require('@opentelemetry/api')
const { resourceFromAttributes } = require('@opentelemetry/resources')
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')
const { MeterProvider, PeriodicExportingMetricReader, AggregationType } = require('@opentelemetry/sdk-metrics')
const { LoggerProvider, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs')
const { SeverityNumber } = require('@opentelemetry/api-logs')
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http')
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http')
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http')

const endpoint = process.argv[2]
const resource = resourceFromAttributes({
  'service.name': 'otel-node',
  'deployment.environment.name': 'otel-env',
  'service.version': '1.2.3'
})

async function main () {
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))]
  })
  const tracer = tracerProvider.getTracer('otlp-test', '0.1')
  const reader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }),
    exportIntervalMillis: 3600000
  })
  const meterProvider = new MeterProvider({
    resource,
    readers: [reader],
    views: [{ instrumentName: 'otel.latency.exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }]
  })
  const meter = meterProvider.getMeter('otlp-test')
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new SimpleLogRecordProcessor(new OTLPLogExporter({ url: `${endpoint}/v1/logs` }))]
  })
  const logger = loggerProvider.getLogger('otlp-test')

  const other = tracer.startSpan('linked-from')
  other.end()
  const root = tracer.startSpan('GET /orders', {
    kind: api.SpanKind.SERVER,
    links: [{ context: other.spanContext(), attributes: { why: 'batch' } }],
    attributes: { 'http.request.method': 'GET', 'http.route': '/orders', 'http.response.status_code': 200, customer: 'acme', items: 3 }
  })
  root.addEvent('cache.miss', { key: 'orders:7' })
  const ctx = api.trace.setSpan(api.context.active(), root)
  const db = tracer.startSpan('SELECT orders', {
    kind: api.SpanKind.CLIENT,
    attributes: { 'db.system': 'postgresql', 'db.statement': 'SELECT * FROM orders' }
  }, ctx)
  db.end()
  const fail = tracer.startSpan('fail', {}, ctx)
  const err = new TypeError('boom')
  fail.recordException(err)
  fail.setStatus({ code: api.SpanStatusCode.ERROR, message: 'it failed' })
  fail.end()
  logger.emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'order lookup slow', attributes: { order_id: 7 }, context: ctx })
  logger.emit({ severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: 'order lookup failed', context: ctx })
  root.end()

  const counter = meter.createCounter('otel.requests')
  counter.add(5, { route: '/orders' })
  counter.add(2, { route: '/orders' })
  const updown = meter.createUpDownCounter('otel.queue')
  updown.add(10)
  updown.add(-3)
  const hist = meter.createHistogram('otel.latency', { unit: 'ms' })
  const exp = meter.createHistogram('otel.latency.exp', { unit: 'ms' })
  for (const v of [1, 2, 3, 40, 500]) { hist.record(v); exp.record(v) }
  const gauge = meter.createGauge('otel.temperature')
  gauge.record(21.5, { room: 'a' })

  await meterProvider.forceFlush()
  await tracerProvider.forceFlush()
  await loggerProvider.forceFlush()
  console.log(`trace=${root.spanContext().traceId}`)
  for (const [name, s] of [['root', root], ['db', db], ['fail', fail], ['other', other]]) {
    console.log(`${name}=${BigInt('0x' + s.spanContext().spanId)}`)
  }
  await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown(), loggerProvider.shutdown()])
}

main().catch((e) => { console.error(e); process.exit(1) })
