"""A function with no Datadog library: for the exec-wrapper test, it answers with what the
wrapper left in its environment."""
import os


def handler(event, context):
    print(f"plain handler got {event['n']}")
    return {"n": event["n"], "dd_log_level": os.environ.get("DD_LOG_LEVEL")}
