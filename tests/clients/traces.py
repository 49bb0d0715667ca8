"""Creates a small trace with Datadog's real Python tracer (`ddtrace`), which asks the agent
`GET /info` and then posts `/v0.5/traces`. The agent URL comes from DD_TRACE_AGENT_URL."""
from ddtrace.trace import tracer

with tracer.trace("eco.request", service="eco-py", resource="GET /orders") as root:
    root.set_tag("customer", "acme")
    root.set_metric("items", 3)
    with tracer.trace("eco.db", service="eco-py-db", resource="SELECT orders") as child:
        child.set_tag("db.system", "postgresql")
    try:
        with tracer.trace("eco.fail", resource="boom"):
            raise ValueError("expected failure")
    except ValueError:
        pass
    print(root.trace_id, root.span_id, flush=True)
tracer.flush()
tracer.shutdown()
