"""Warm up the emulator: one cheap call per service the project uses.

LocalStack loads each service on its first request (the first EC2 call takes about
14 s), so start.sh runs this once after the health check, before anything is timed.
Usage: warmup.py [ENDPOINT]   (default $INFRA_LOCALSTACK_ENDPOINT or http://127.0.0.1:4566)
"""

import os
import sys
import time

import boto3
from botocore.config import Config

# Order matters: Secrets Manager must load BEFORE RDS. LocalStack patches moto's
# FakeSecret when its Secrets Manager provider loads; secrets RDS creates earlier break
# DescribeSecret/ListSecrets with HTTP 500. (The plugin's RDS factory also imports the
# Secrets Manager provider; this keeps the warm-up correct on its own.)
CALLS = [
    ("sts", "get_caller_identity", {}),
    ("ec2", "describe_vpcs", {}),
    ("iam", "list_roles", {}),
    ("secretsmanager", "list_secrets", {}),
    ("rds", "describe_db_instances", {}),
    ("eks", "list_clusters", {}),
    ("elbv2", "describe_load_balancers", {}),
    ("sqs", "list_queues", {}),
    ("events", "list_rules", {}),
    ("kms", "list_keys", {}),
    ("route53", "list_hosted_zones", {}),
    ("acm", "list_certificates", {}),
    ("resourcegroupstaggingapi", "get_resources", {}),
]


def main() -> int:
    endpoint = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get(
        "INFRA_LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566"
    )
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, read_timeout=120)
    failed = 0
    start = time.monotonic()
    for service, method, kwargs in CALLS:
        t0 = time.monotonic()
        try:
            client = session.client(service, endpoint_url=endpoint, config=config)
            getattr(client, method)(**kwargs)
            print(f"warm-up {service}.{method}: ok ({time.monotonic() - t0:.1f} s)", flush=True)
        except Exception as e:  # report every failure, then fail
            failed += 1
            print(f"warm-up {service}.{method}: FAILED: {e}", file=sys.stderr, flush=True)
    print(f"warm-up done in {time.monotonic() - start:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
