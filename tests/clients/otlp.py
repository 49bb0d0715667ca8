"""OpenTelemetry's Python SDK sending every signal to the extension's OTLP receiver.

usage: otlp.py http|grpc <endpoint>
Spans (a server root with an event and a link, a client child, a failed child with a recorded
exception), metrics (counter, up-down counter, histogram, gauge, exponential histogram) and log
records, each exported once and flushed before exit. Prints the trace id (hex) and the ids of
the spans, one `name=span_id` per line.
"""

import logging
import sys

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

protocol, endpoint = sys.argv[1], sys.argv[2]
if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    kw = lambda _signal: {"endpoint": endpoint, "insecure": True}
else:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    kw = lambda signal: {"endpoint": f"{endpoint}/v1/{signal}"}

resource = Resource.create(
    {
        "service.name": "otel-py",
        "deployment.environment.name": "otel-env",
        "service.version": "1.2.3",
    }
)

tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(**kw("traces"))))
trace.set_tracer_provider(tracer_provider)
tracer = trace.get_tracer("otlp-test", "0.1")

reader = PeriodicExportingMetricReader(
    OTLPMetricExporter(**kw("metrics")), export_interval_millis=3_600_000
)
meter_provider = MeterProvider(
    resource=resource,
    metric_readers=[reader],
    views=[View(instrument_name="otel.latency.exp", aggregation=ExponentialBucketHistogramAggregation())],
)
metrics.set_meter_provider(meter_provider)
meter = metrics.get_meter("otlp-test")

logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(**kw("logs"))))
set_logger_provider(logger_provider)
log = logging.getLogger("otlp-test")
log.setLevel(logging.INFO)
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))

with tracer.start_as_current_span("linked-from") as other:
    other_ctx = other.get_span_context()
with tracer.start_as_current_span(
    "GET /orders",
    kind=trace.SpanKind.SERVER,
    links=[trace.Link(other_ctx, {"why": "batch"})],
    attributes={"http.request.method": "GET", "http.route": "/orders", "http.response.status_code": 200, "customer": "acme", "items": 3},
) as root:
    root.add_event("cache.miss", {"key": "orders:7"})
    with tracer.start_as_current_span(
        "SELECT orders", kind=trace.SpanKind.CLIENT, attributes={"db.system": "postgresql", "db.statement": "SELECT * FROM orders"}
    ) as db:
        pass
    with tracer.start_as_current_span("fail") as fail:
        try:
            raise ValueError("boom")
        except ValueError as e:
            fail.record_exception(e)
            fail.set_status(trace.Status(trace.StatusCode.ERROR, "it failed"))
    log.warning("order lookup slow", extra={"order_id": 7})
    log.error("order lookup failed")

counter = meter.create_counter("otel.requests")
counter.add(5, {"route": "/orders"})
counter.add(2, {"route": "/orders"})
updown = meter.create_up_down_counter("otel.queue")
updown.add(10)
updown.add(-3)
hist = meter.create_histogram("otel.latency", unit="ms")
for v in [1, 2, 3, 40, 500]:
    hist.record(v)
exp = meter.create_histogram("otel.latency.exp", unit="ms")
for v in [1, 2, 3, 40, 500]:
    exp.record(v)
gauge = meter.create_gauge("otel.temperature")
gauge.set(21.5, {"room": "a"})

meter_provider.force_flush()
tracer_provider.force_flush()
logger_provider.force_flush()
print(f"trace={root.get_span_context().trace_id:032x}")
for name, s in [("root", root), ("db", db), ("fail", fail), ("other", other)]:
    print(f"{name}={s.get_span_context().span_id}")
meter_provider.shutdown()
tracer_provider.shutdown()
logger_provider.shutdown()
