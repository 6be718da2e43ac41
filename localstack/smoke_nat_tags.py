"""Check the plugin's DescribeNatGateways tag-filter patch (ec2_patches.py).

Run after start.sh:  $VENV/bin/python smoke_nat_tags.py [ENDPOINT]
Creates a VPC + subnet + EIP + two NAT gateways tagged infra:env=a and infra:env=b,
checks `tag:infra:env`, `tag-key`, `tag-value` (incl. a wildcard) and the AND with
another filter, deletes everything. Exits non-zero on any failure.
"""

import os
import sys
import uuid

import boto3
from botocore.config import Config

ENDPOINT = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get(
    "INFRA_LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566"
)
ec2 = boto3.session.Session(
    aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
).client("ec2", endpoint_url=ENDPOINT, config=Config(retries={"max_attempts": 1}))


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def ids(*filters, vpc_id):
    fl = [{"Name": "vpc-id", "Values": [vpc_id]}] + [
        {"Name": n, "Values": list(v)} for n, v in filters
    ]
    return {n["NatGatewayId"] for n in ec2.describe_nat_gateways(Filters=fl)["NatGateways"]}


def main() -> int:
    marker = "nat-" + uuid.uuid4().hex[:8]
    cleanup = []
    failed = False
    try:
        vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
        cleanup.append(lambda: ec2.delete_vpc(VpcId=vpc))
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
        cleanup.append(lambda: ec2.delete_subnet(SubnetId=subnet))
        nats = {}
        for env in ("a", "b"):
            alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
            cleanup.append(lambda alloc=alloc: ec2.release_address(AllocationId=alloc))
            nat = ec2.create_nat_gateway(
                SubnetId=subnet,
                AllocationId=alloc,
                TagSpecifications=[{
                    "ResourceType": "natgateway",
                    "Tags": [{"Key": "infra:env", "Value": env}, {"Key": "marker", "Value": marker}],
                }],
            )["NatGateway"]["NatGatewayId"]
            cleanup.append(lambda nat=nat: ec2.delete_nat_gateway(NatGatewayId=nat))
            nats[env] = nat
        a, b = nats["a"], nats["b"]
        check(ids(vpc_id=vpc) == {a, b}, "no tag filter: both NAT gateways")
        check(ids(("tag:infra:env", ["a"]), vpc_id=vpc) == {a}, "tag:infra:env=a -> only a")
        check(ids(("tag:infra:env", ["b"]), vpc_id=vpc) == {b}, "tag:infra:env=b -> only b")
        check(ids(("tag:infra:env", ["a", "b"]), vpc_id=vpc) == {a, b}, "tag:infra:env=a,b -> both")
        check(ids(("tag:infra:env", ["c"]), vpc_id=vpc) == set(), "tag:infra:env=c -> none")
        check(ids(("tag:infra:env", ["*"]), vpc_id=vpc) == {a, b}, "tag:infra:env=* -> both")
        check(ids(("tag-key", ["marker"]), vpc_id=vpc) == {a, b}, "tag-key=marker -> both")
        check(ids(("tag-key", ["nope"]), vpc_id=vpc) == set(), "tag-key=nope -> none")
        check(ids(("tag-value", [marker]), vpc_id=vpc) == {a, b}, "tag-value=<marker> -> both")
        check(
            ids(("tag:marker", [marker]), ("tag:infra:env", ["b"]), vpc_id=vpc) == {b},
            "two tag filters are ANDed",
        )
        check(
            ids(("tag:infra:env", ["a"]), ("nat-gateway-id", [b]), vpc_id=vpc) == set(),
            "tag filter ANDed with nat-gateway-id",
        )
        # (botocore aliases Filters to the API's `Filter`, which is what the Rust SDK sends)
        got = ec2.describe_nat_gateways(
            NatGatewayIds=[a, b], Filters=[{"Name": "tag:infra:env", "Values": ["a"]}]
        )
        check([n["NatGatewayId"] for n in got["NatGateways"]] == [a], "NatGatewayIds + tag filter")
    except Exception as e:  # noqa: BLE001
        print(f"FAIL: {e!r}", flush=True)
        failed = True
    finally:
        for fn in reversed(cleanup):
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                print(f"cleanup error: {e!r}", flush=True)
    print("FAILED" if failed else "passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
