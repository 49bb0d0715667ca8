"""Sends every DogStatsD metric type with Datadog's real Python client (`datadog` on PyPI).
Usage: python3 dogstatsd.py <host> <port> <past unix timestamp>"""
import sys

from datadog.dogstatsd import DogStatsd

host, port, past = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tags = ["client:python", "team:eco"]
s = DogStatsd(host=host, port=port, disable_telemetry=True)
s.gauge("eco.py.gauge", 42.5, tags=tags)
s.increment("eco.py.count", 3, tags=tags)
s.decrement("eco.py.count", 1, tags=tags)
for v in (10, 20, 30):
    s.histogram("eco.py.hist", v, tags=tags)
    s.timing("eco.py.timing", v * 10, tags=tags)
for v in (1, 2, 3, 4):
    s.distribution("eco.py.dist", v, tags=tags)
for user in ("ann", "bob", "ann"):
    s.set("eco.py.set", user, tags=tags)
s.gauge_with_timestamp("eco.py.gauge_ts", 7, past, tags=tags)
s.count_with_timestamp("eco.py.count_ts", 5, past, tags=tags)
s.event("eco py event", "text of the event", alert_type="warning", tags=tags)
s.service_check("eco.py.check", DogStatsd.WARNING, tags=tags, message="degraded")
s.flush()
s.close_socket()
print("sent")
