"""Smoke test of the EKS Pod Identity association operations the provider plugin serves
(moto has no route for them).

Run after start.sh:  $VENV/bin/python smoke_pod_identity.py [ENDPOINT]
Creates a VPC + 2 subnets and an EKS cluster, then exercises
CreatePodIdentityAssociation / DescribePodIdentityAssociation / ListPodIdentityAssociations
(filters, pagination) / UpdatePodIdentityAssociation / DeletePodIdentityAssociation, tags on
the association ARN, idempotent retries (clientRequestToken), the AWS error codes
(ResourceInUseException for a second association of one service account,
ResourceNotFoundException for a missing cluster or association) and associations gone
with their cluster; deletes everything it created. Exits non-zero on failure.
"""

import os
import re
import sys
import time
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get(
    "INFRA_LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566"
)
SESSION = boto3.session.Session(
    aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
)
CONFIG = Config(retries={"max_attempts": 1}, read_timeout=120)
ec2, eks = (SESSION.client(s, endpoint_url=ENDPOINT, config=CONFIG) for s in ("ec2", "eks"))
ROLE = "arn:aws:iam::000000000000:role/smoke"
ROLE2 = "arn:aws:iam::000000000000:role/smoke-2"
TARGET = "arn:aws:iam::111111111111:role/smoke-target"
ASSOCIATION_KEYS = {"clusterName", "namespace", "serviceAccount", "roleArn", "associationArn",
                    "associationId", "tags", "createdAt", "modifiedAt", "disableSessionTags"}


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def expect_error(code, status, fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        check(got == (code, status), f"{fn.__name__} -> {code} {status} (got {got[0]} {got[1]})")
        return
    check(False, f"{fn.__name__} fails with {code}")


def main() -> int:
    suffix = uuid.uuid4().hex[:8]
    cleanup = []  # (description, callable), run in reverse order
    failed = False
    try:
        vpc_id = ec2.create_vpc(CidrBlock="10.44.0.0/16")["Vpc"]["VpcId"]
        cleanup.append((f"vpc {vpc_id}", lambda: ec2.delete_vpc(VpcId=vpc_id)))
        subnets = []
        for i, az in enumerate(("us-east-1a", "us-east-1b")):
            sid = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.44.{i}.0/24", AvailabilityZone=az)[
                "Subnet"
            ]["SubnetId"]
            subnets.append(sid)
            cleanup.append((f"subnet {sid}", lambda sid=sid: ec2.delete_subnet(SubnetId=sid)))

        cluster = f"smoke-pia-{suffix}"
        eks.create_cluster(name=cluster, version="1.31", roleArn=ROLE,
                           resourcesVpcConfig={"subnetIds": subnets})
        cleanup.append((f"eks cluster {cluster}", lambda: eks.delete_cluster(name=cluster)))
        missing = f"missing-{suffix}"

        # --- create ---
        token = str(uuid.uuid4())
        created = eks.create_pod_identity_association(
            clusterName=cluster, namespace="kube-system", serviceAccount="app", roleArn=ROLE,
            tags={"infra:env": "smoke"}, clientRequestToken=token,
        )["association"]
        check(set(created) == ASSOCIATION_KEYS, f"create answers the association fields {sorted(created)}")
        aid = created["associationId"]
        check(re.fullmatch(r"a-[a-z0-9]{17}", aid) is not None, f"association id {aid}")
        check(created["associationArn"]
              == f"arn:aws:eks:us-east-1:000000000000:podidentityassociation/{cluster}/{aid}",
              f"association arn {created['associationArn']}")
        check((created["clusterName"], created["namespace"], created["serviceAccount"], created["roleArn"],
               created["tags"], created["disableSessionTags"])
              == (cluster, "kube-system", "app", ROLE, {"infra:env": "smoke"}, False),
              "create echoes cluster, namespace, service account, role, tags; disableSessionTags false")
        check(created["createdAt"] == created["modifiedAt"] and "ownerArn" not in created,
              "createdAt == modifiedAt, no ownerArn")
        again = eks.create_pod_identity_association(
            clusterName=cluster, namespace="kube-system", serviceAccount="app", roleArn=ROLE,
            clientRequestToken=token,
        )["association"]
        check(again["associationId"] == aid, "a retry with the same clientRequestToken answers the same association")
        expect_error("ResourceInUseException", 409, eks.create_pod_identity_association, clusterName=cluster,
                     namespace="kube-system", serviceAccount="app", roleArn=ROLE2)
        expect_error("ResourceNotFoundException", 404, eks.create_pod_identity_association, clusterName=missing,
                     namespace="kube-system", serviceAccount="app", roleArn=ROLE)
        expect_error("InvalidParameterException", 400, eks.create_pod_identity_association, clusterName=cluster,
                     namespace="kube-system", serviceAccount="bad-role", roleArn="not-an-arn")
        other = eks.create_pod_identity_association(
            clusterName=cluster, namespace="default", serviceAccount="app", roleArn=ROLE2,
            targetRoleArn=TARGET, disableSessionTags=True,
        )["association"]
        check(other["targetRoleArn"] == TARGET and other["externalId"] and other["disableSessionTags"] is True
              and other["tags"] == {}, "same service account name in another namespace; target role, externalId")
        third = eks.create_pod_identity_association(
            clusterName=cluster, namespace="kube-system", serviceAccount="other", roleArn=ROLE,
        )["association"]

        # --- describe ---
        got = eks.describe_pod_identity_association(clusterName=cluster, associationId=aid)["association"]
        check(got == created, "describe answers what create answered")
        expect_error("ResourceNotFoundException", 404, eks.describe_pod_identity_association,
                     clusterName=cluster, associationId="a-00000000000000000")
        expect_error("ResourceNotFoundException", 404, eks.describe_pod_identity_association,
                     clusterName=missing, associationId=aid)

        # --- list ---
        listed = eks.list_pod_identity_associations(clusterName=cluster)
        everything = {a["associationId"]: a for a in listed["associations"]}
        check(set(everything) == {aid, other["associationId"], third["associationId"]} and "nextToken" not in listed,
              "list answers the three associations")
        check(everything[aid] == {k: created[k] for k in ("clusterName", "namespace", "serviceAccount",
                                                           "associationArn", "associationId")},
              "list entries are summaries (no roleArn, tags, timestamps)")
        by_ns = eks.list_pod_identity_associations(clusterName=cluster, namespace="kube-system")["associations"]
        check({a["associationId"] for a in by_ns} == {aid, third["associationId"]}, "list filters by namespace")
        by_sa = eks.list_pod_identity_associations(clusterName=cluster, serviceAccount="app")["associations"]
        check({a["associationId"] for a in by_sa} == {aid, other["associationId"]}, "list filters by serviceAccount")
        both = eks.list_pod_identity_associations(clusterName=cluster, namespace="default",
                                                  serviceAccount="app")["associations"]
        check([a["associationId"] for a in both] == [other["associationId"]], "list filters by both")
        seen, kwargs = [], {}
        while True:
            page = eks.list_pod_identity_associations(clusterName=cluster, maxResults=2, **kwargs)
            check(len(page["associations"]) <= 2, "page of at most 2")
            seen += [a["associationId"] for a in page["associations"]]
            if "nextToken" not in page:
                break
            kwargs = {"nextToken": page["nextToken"]}
        check(sorted(seen) == sorted(everything), "list pagination covers every association once")
        paginated = [a["associationId"] for p in eks.get_paginator("list_pod_identity_associations").paginate(
            clusterName=cluster, PaginationConfig={"PageSize": 1}) for a in p["associations"]]
        check(sorted(paginated) == sorted(everything), "boto3 paginator")
        expect_error("ResourceNotFoundException", 404, eks.list_pod_identity_associations, clusterName=missing)

        # --- update ---
        time.sleep(0.01)
        updated = eks.update_pod_identity_association(clusterName=cluster, associationId=aid,
                                                      roleArn=ROLE2)["association"]
        check(updated["roleArn"] == ROLE2 and updated["modifiedAt"] > updated["createdAt"]
              and updated["createdAt"] == created["createdAt"], "update changes roleArn and modifiedAt")
        got = eks.describe_pod_identity_association(clusterName=cluster, associationId=aid)["association"]
        check(got["roleArn"] == ROLE2, "describe reflects update")
        updated = eks.update_pod_identity_association(clusterName=cluster, associationId=other["associationId"],
                                                      targetRoleArn="", disableSessionTags=False)["association"]
        check("targetRoleArn" not in updated and "externalId" not in updated and updated["disableSessionTags"] is False,
              "update with targetRoleArn '' removes the target role")
        expect_error("ResourceNotFoundException", 404, eks.update_pod_identity_association,
                     clusterName=cluster, associationId="a-00000000000000000", roleArn=ROLE)
        expect_error("InvalidParameterException", 400, eks.update_pod_identity_association,
                     clusterName=cluster, associationId=aid, roleArn="not-an-arn")

        # --- tags on the association ARN ---
        arn = created["associationArn"]
        eks.tag_resource(resourceArn=arn, tags={"owner": "smoke"})
        eks.untag_resource(resourceArn=arn, tagKeys=["infra:env"])
        check(eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"owner": "smoke"},
              "tag/untag/list tags on the association ARN")
        check(eks.describe_pod_identity_association(clusterName=cluster, associationId=aid)["association"]["tags"]
              == {"owner": "smoke"}, "describe shows the association's tags")
        expect_error("ResourceNotFoundException", 404, eks.list_tags_for_resource,
                     resourceArn=arn.rsplit("/", 1)[0] + "/a-00000000000000000")

        # --- delete ---
        deleted = eks.delete_pod_identity_association(clusterName=cluster, associationId=aid)["association"]
        check(deleted["associationId"] == aid and deleted["roleArn"] == ROLE2, "delete answers the association")
        expect_error("ResourceNotFoundException", 404, eks.describe_pod_identity_association,
                     clusterName=cluster, associationId=aid)
        expect_error("ResourceNotFoundException", 404, eks.delete_pod_identity_association,
                     clusterName=cluster, associationId=aid)
        recreated = eks.create_pod_identity_association(
            clusterName=cluster, namespace="kube-system", serviceAccount="app", roleArn=ROLE,
            clientRequestToken=token,
        )["association"]
        check(recreated["associationId"] != aid, "after delete the service account can be associated again")

        # --- gone with the cluster ---
        eks.delete_cluster(name=cluster)
        eks.create_cluster(name=cluster, version="1.31", roleArn=ROLE, resourcesVpcConfig={"subnetIds": subnets})
        check(eks.list_pod_identity_associations(clusterName=cluster)["associations"] == [],
              "associations deleted with their cluster")
    except Exception as e:
        failed = True
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        for what, fn in reversed(cleanup):
            try:
                fn()
                print(f"deleted {what}", flush=True)
            except Exception as e:
                failed = True
                print(f"FAILED to delete {what}: {e}", file=sys.stderr, flush=True)
    print("smoke_pod_identity: FAILED" if failed else "smoke_pod_identity: passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    t0 = time.monotonic()
    rc = main()
    print(f"smoke_pod_identity took {time.monotonic() - t0:.1f} s")
    sys.exit(rc)
