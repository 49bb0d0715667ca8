"""The function under test: wrapped by datadog-lambda (DD_LAMBDA_HANDLER=app.handler)."""
from datadog_lambda.metric import lambda_metric


def handler(event, context):
    order = event["order"]
    print(f"handling order {order}")
    lambda_metric("eco.lambda.orders", order, tags=["source:eco"])
    return {"statusCode": 200, "order": order}
