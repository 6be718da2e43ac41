"""Smoke test of the EKS access entry operations the provider plugin serves (moto has no
route for them).

Run after start.sh:  $VENV/bin/python smoke_access_entries.py [ENDPOINT]
Creates a VPC + 2 subnets and EKS clusters in the three authentication modes, then
exercises CreateAccessEntry / DescribeAccessEntry / ListAccessEntries (pagination,
associatedPolicyArn filter) / UpdateAccessEntry / DeleteAccessEntry, AssociateAccessPolicy
(scope replacement) / DisassociateAccessPolicy / ListAssociatedAccessPolicies /
ListAccessPolicies, tags on the access entry ARN, idempotent retries (clientRequestToken),
the cluster creator's entry (bootstrapClusterCreatorAdminPermissions, also for an assumed
role), the AWS error codes (ResourceInUseException, ResourceNotFoundException,
InvalidRequestException in CONFIG_MAP mode, InvalidParameterException) and entries gone with
their cluster; deletes everything it created. Exits non-zero on failure.
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
ec2, eks, sts = (SESSION.client(s, endpoint_url=ENDPOINT, config=CONFIG) for s in ("ec2", "eks", "sts"))
ACCOUNT = "000000000000"
CLUSTER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/smoke-cluster"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
DEV = f"arn:aws:iam::{ACCOUNT}:role/teams/apps/smoke-dev"  # a role with a path
OPS = f"arn:aws:iam::{ACCOUNT}:user/smoke-ops"
OTHER = "arn:aws:iam::111111111111:role/smoke-other-account"
NODE = f"arn:aws:iam::{ACCOUNT}:role/smoke-node"
POLICY = "arn:aws:eks::aws:cluster-access-policy/"
VIEW, EDIT, ADMIN, CLUSTER_ADMIN = (POLICY + n for n in (
    "AmazonEKSViewPolicy", "AmazonEKSEditPolicy", "AmazonEKSAdminPolicy", "AmazonEKSClusterAdminPolicy"))
ENTRY_KEYS = {"clusterName", "principalArn", "kubernetesGroups", "accessEntryArn", "createdAt",
              "modifiedAt", "tags", "username", "type"}
POLICY_KEYS = {"policyArn", "accessScope", "associatedAt", "modifiedAt"}


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


def entry_arn_re(cluster, kind, account, name):
    return re.compile(rf"arn:aws:eks:us-east-1:{ACCOUNT}:access-entry/{re.escape(cluster)}/{kind}/"
                      rf"{account}/{re.escape(name)}/[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}")


def main() -> int:
    suffix = uuid.uuid4().hex[:8]
    cleanup = []  # (description, callable), run in reverse order
    failed = False
    try:
        vpc_id = ec2.create_vpc(CidrBlock="10.45.0.0/16")["Vpc"]["VpcId"]
        cleanup.append((f"vpc {vpc_id}", lambda: ec2.delete_vpc(VpcId=vpc_id)))
        subnets = []
        for i, az in enumerate(("us-east-1a", "us-east-1b")):
            sid = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.45.{i}.0/24", AvailabilityZone=az)[
                "Subnet"
            ]["SubnetId"]
            subnets.append(sid)
            cleanup.append((f"subnet {sid}", lambda sid=sid: ec2.delete_subnet(SubnetId=sid)))

        def new_cluster(name, client=eks, **access):
            kwargs = {"accessConfig": access} if access else {}
            client.create_cluster(name=name, version="1.31", roleArn=CLUSTER_ROLE,
                                  resourcesVpcConfig={"subnetIds": subnets}, **kwargs)
            cleanup.append((f"eks cluster {name}", lambda: eks.delete_cluster(name=name)))

        api = f"smoke-ae-api-{suffix}"          # API, creator bootstrapped
        mixed = f"smoke-ae-mixed-{suffix}"      # API_AND_CONFIG_MAP, no creator entry
        config_map = f"smoke-ae-cm-{suffix}"    # CONFIG_MAP (the default)
        missing = f"missing-{suffix}"
        new_cluster(api, authenticationMode="API", bootstrapClusterCreatorAdminPermissions=True)
        new_cluster(mixed, authenticationMode="API_AND_CONFIG_MAP",
                    bootstrapClusterCreatorAdminPermissions=False)
        new_cluster(config_map)

        # --- the cluster creator's entry ---
        caller = sts.get_caller_identity()["Arn"]
        check(caller == ROOT, f"test credentials are the account root ({caller})")
        check(eks.list_access_entries(clusterName=api)["accessEntries"] == [ROOT],
              "bootstrap true + API: the creator has an access entry")
        creator = eks.describe_access_entry(clusterName=api, principalArn=ROOT)["accessEntry"]
        check(set(creator) == ENTRY_KEYS and creator["type"] == "STANDARD" and creator["username"] == ROOT
              and creator["kubernetesGroups"] == [] and creator["tags"] == {}
              and entry_arn_re(api, "root", ACCOUNT, "root").fullmatch(creator["accessEntryArn"]),
              f"creator entry: STANDARD, username = root ARN, {creator['accessEntryArn']}")
        creator_policies = eks.list_associated_access_policies(clusterName=api, principalArn=ROOT)
        check([(p["policyArn"], p["accessScope"]) for p in creator_policies["associatedAccessPolicies"]]
              == [(CLUSTER_ADMIN, {"type": "cluster", "namespaces": []})],
              "creator entry has AmazonEKSClusterAdminPolicy with cluster scope")
        check(eks.list_access_entries(clusterName=mixed)["accessEntries"] == [],
              "bootstrap false: no creator entry")

        role_creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/smoke-creator",
                                     RoleSessionName="smoke")["Credentials"]
        as_role = boto3.client("eks", endpoint_url=ENDPOINT, config=CONFIG, region_name="us-east-1",
                               aws_access_key_id=role_creds["AccessKeyId"],
                               aws_secret_access_key=role_creds["SecretAccessKey"],
                               aws_session_token=role_creds["SessionToken"])
        by_role = f"smoke-ae-role-{suffix}"
        new_cluster(by_role, client=as_role, authenticationMode="API_AND_CONFIG_MAP")
        role_entry = eks.describe_access_entry(clusterName=by_role, principalArn=f"arn:aws:iam::{ACCOUNT}:role/smoke-creator")
        check(role_entry["accessEntry"]["username"]
              == f"arn:aws:sts::{ACCOUNT}:assumed-role/smoke-creator/{{{{SessionName}}}}",
              "a creator in an assumed role gets the role's entry (username: assumed-role form)")
        eks.delete_cluster(name=by_role)
        cleanup.pop()

        # --- CONFIG_MAP mode has no access entry API ---
        expect_error("InvalidRequestException", 400, eks.create_access_entry, clusterName=config_map, principalArn=DEV)
        expect_error("InvalidRequestException", 400, eks.list_access_entries, clusterName=config_map)
        expect_error("InvalidRequestException", 400, eks.describe_access_entry, clusterName=config_map,
                     principalArn=DEV)

        # --- create ---
        token = str(uuid.uuid4())
        dev = eks.create_access_entry(clusterName=mixed, principalArn=DEV, kubernetesGroups=["dev-readers"],
                                      tags={"infra:env": "smoke"}, clientRequestToken=token)["accessEntry"]
        check(set(dev) == ENTRY_KEYS, f"create answers the access entry fields {sorted(dev)}")
        check((dev["clusterName"], dev["principalArn"], dev["kubernetesGroups"], dev["tags"], dev["type"])
              == (mixed, DEV, ["dev-readers"], {"infra:env": "smoke"}, "STANDARD"),
              "create echoes cluster, principal, groups, tags; type defaults to STANDARD")
        check(dev["username"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/smoke-dev/{{{{SessionName}}}}",
              f"role username: assumed-role form without the path ({dev['username']})")
        check(entry_arn_re(mixed, "role", ACCOUNT, "smoke-dev").fullmatch(dev["accessEntryArn"]) is not None,
              f"access entry arn {dev['accessEntryArn']}")
        check(dev["createdAt"] == dev["modifiedAt"], "createdAt == modifiedAt")
        again = eks.create_access_entry(clusterName=mixed, principalArn=DEV, clientRequestToken=token)["accessEntry"]
        check(again == dev, "a retry with the same clientRequestToken answers the same entry")
        expect_error("InvalidParameterException", 400, eks.create_access_entry, clusterName=mixed,
                     principalArn=OPS, clientRequestToken=token)
        expect_error("ResourceInUseException", 409, eks.create_access_entry, clusterName=mixed, principalArn=DEV)
        expect_error("ResourceNotFoundException", 404, eks.create_access_entry, clusterName=missing, principalArn=DEV)
        expect_error("InvalidParameterException", 400, eks.create_access_entry, clusterName=mixed,
                     principalArn=f"arn:aws:sts::{ACCOUNT}:assumed-role/smoke-dev/session")
        try:  # infra retries InvalidParameterException naming a role as IAM propagation delay
            eks.create_access_entry(clusterName=mixed, principalArn=f"arn:aws:sts::{ACCOUNT}:assumed-role/x/y")
        except ClientError as e:
            message = e.response["Error"]["Message"].lower()
            check("role" not in message and "assume" not in message,
                  "a permanent principal error does not read as an IAM propagation delay")
        expect_error("InvalidParameterException", 400, eks.create_access_entry, clusterName=mixed,
                     principalArn=OPS, type="NOT_A_TYPE")
        expect_error("InvalidParameterException", 400, eks.create_access_entry, clusterName=mixed,
                     principalArn=OPS, username="system:admin")
        expect_error("InvalidParameterException", 400, eks.create_access_entry, clusterName=mixed,
                     principalArn=OPS, kubernetesGroups=["system:masters"])
        ops = eks.create_access_entry(clusterName=mixed, principalArn=OPS, username="ops",
                                      type="STANDARD")["accessEntry"]
        check(ops["username"] == "ops" and ops["kubernetesGroups"] == []
              and entry_arn_re(mixed, "user", ACCOUNT, "smoke-ops").fullmatch(ops["accessEntryArn"]),
              "IAM user entry with a custom username")
        other = eks.create_access_entry(clusterName=mixed, principalArn=OTHER)["accessEntry"]
        check(other["username"] == "arn:aws:sts::111111111111:assumed-role/smoke-other-account/{{SessionName}}"
              and "/role/111111111111/smoke-other-account/" in other["accessEntryArn"],
              "STANDARD entry for a role of another account")
        expect_error("InvalidParameterException", 400, eks.create_access_entry, clusterName=mixed,
                     principalArn=NODE, type="EC2_LINUX", kubernetesGroups=["nodes"])
        expect_error("InvalidParameterException", 400, eks.create_access_entry, clusterName=mixed,
                     principalArn=OTHER.replace("other-account", "node"), type="EC2_LINUX")
        node = eks.create_access_entry(clusterName=mixed, principalArn=NODE, type="EC2_LINUX")["accessEntry"]
        check((node["type"], node["username"], node["kubernetesGroups"])
              == ("EC2_LINUX", "system:node:{{EC2PrivateDNSName}}", ["system:nodes"]),
              "EC2_LINUX entry: node username and group set by EKS")

        # --- describe ---
        check(eks.describe_access_entry(clusterName=mixed, principalArn=DEV)["accessEntry"] == dev,
              "describe answers what create answered (principal ARN with a path, URL-encoded)")
        expect_error("ResourceNotFoundException", 404, eks.describe_access_entry, clusterName=mixed,
                     principalArn=f"arn:aws:iam::{ACCOUNT}:role/nobody")
        expect_error("ResourceNotFoundException", 404, eks.describe_access_entry, clusterName=missing,
                     principalArn=DEV)

        # --- associate / list / disassociate access policies ---
        assoc = eks.associate_access_policy(clusterName=mixed, principalArn=DEV, policyArn=VIEW,
                                            accessScope={"type": "namespace", "namespaces": ["apps"]})
        check(set(assoc) - {"ResponseMetadata"} == {"clusterName", "principalArn", "associatedAccessPolicy"}
              and (assoc["clusterName"], assoc["principalArn"]) == (mixed, DEV),
              "associate answers clusterName, principalArn, associatedAccessPolicy")
        view = assoc["associatedAccessPolicy"]
        check(set(view) == POLICY_KEYS and view["policyArn"] == VIEW
              and view["accessScope"] == {"type": "namespace", "namespaces": ["apps"]}
              and view["associatedAt"] == view["modifiedAt"], "associated policy fields and namespace scope")
        time.sleep(0.01)
        wider = eks.associate_access_policy(clusterName=mixed, principalArn=DEV, policyArn=VIEW,
                                            accessScope={"type": "namespace", "namespaces": ["apps", "web"]})
        wider = wider["associatedAccessPolicy"]
        check(wider["accessScope"]["namespaces"] == ["apps", "web"] and wider["associatedAt"] == view["associatedAt"]
              and wider["modifiedAt"] > view["modifiedAt"],
              "associating the same policy again replaces its scope (associatedAt kept)")
        eks.associate_access_policy(clusterName=mixed, principalArn=DEV, policyArn=EDIT,
                                    accessScope={"type": "cluster"})
        eks.associate_access_policy(clusterName=mixed, principalArn=OPS, policyArn=VIEW,
                                    accessScope={"type": "cluster"})
        eks.associate_access_policy(clusterName=mixed, principalArn=OPS, policyArn=POLICY + "AmazonEKSFuturePolicy",
                                    accessScope={"type": "cluster"})
        listed = eks.list_associated_access_policies(clusterName=mixed, principalArn=DEV)
        check((listed["clusterName"], listed["principalArn"]) == (mixed, DEV) and "nextToken" not in listed
              and {p["policyArn"]: p["accessScope"] for p in listed["associatedAccessPolicies"]}
              == {VIEW: {"type": "namespace", "namespaces": ["apps", "web"]},
                  EDIT: {"type": "cluster", "namespaces": []}},
              "list associated policies: both, cluster scope with empty namespaces")
        page = eks.list_associated_access_policies(clusterName=mixed, principalArn=DEV, maxResults=1)
        rest = eks.list_associated_access_policies(clusterName=mixed, principalArn=DEV, maxResults=1,
                                                   nextToken=page["nextToken"])
        check(len(page["associatedAccessPolicies"]) == 1 and "nextToken" not in rest
              and {page["associatedAccessPolicies"][0]["policyArn"], rest["associatedAccessPolicies"][0]["policyArn"]}
              == {VIEW, EDIT}, "list associated policies pagination")
        for bad in (f"arn:aws:iam::{ACCOUNT}:policy/AmazonEKSViewPolicy",
                    "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy", "AmazonEKSViewPolicy"):
            expect_error("InvalidParameterException", 400, eks.associate_access_policy, clusterName=mixed,
                         principalArn=DEV, policyArn=bad, accessScope={"type": "cluster"})
        expect_error("InvalidParameterException", 400, eks.associate_access_policy, clusterName=mixed,
                     principalArn=DEV, policyArn=ADMIN, accessScope={"type": "namespace"})
        expect_error("InvalidParameterException", 400, eks.associate_access_policy, clusterName=mixed,
                     principalArn=DEV, policyArn=ADMIN, accessScope={"type": "namespace", "namespaces": []})
        expect_error("InvalidParameterException", 400, eks.associate_access_policy, clusterName=mixed,
                     principalArn=DEV, policyArn=ADMIN, accessScope={"type": "cluster", "namespaces": ["apps"]})
        expect_error("InvalidParameterException", 400, eks.associate_access_policy, clusterName=mixed,
                     principalArn=NODE, policyArn=VIEW, accessScope={"type": "cluster"})
        expect_error("ResourceNotFoundException", 404, eks.associate_access_policy, clusterName=mixed,
                     principalArn=f"arn:aws:iam::{ACCOUNT}:role/nobody", policyArn=VIEW,
                     accessScope={"type": "cluster"})
        expect_error("ResourceNotFoundException", 404, eks.associate_access_policy, clusterName=missing,
                     principalArn=DEV, policyArn=VIEW, accessScope={"type": "cluster"})
        expect_error("ResourceNotFoundException", 404, eks.list_associated_access_policies, clusterName=mixed,
                     principalArn=f"arn:aws:iam::{ACCOUNT}:role/nobody")

        # --- list access entries ---
        everything = sorted([DEV, OPS, OTHER, NODE])
        listed = eks.list_access_entries(clusterName=mixed)
        check(sorted(listed["accessEntries"]) == everything and "nextToken" not in listed,
              "list answers the principal ARNs")
        seen, kwargs = [], {}
        while True:
            page = eks.list_access_entries(clusterName=mixed, maxResults=3, **kwargs)
            check(len(page["accessEntries"]) <= 3, "page of at most 3")
            seen += page["accessEntries"]
            if "nextToken" not in page:
                break
            kwargs = {"nextToken": page["nextToken"]}
        check(sorted(seen) == everything, "list pagination covers every entry once")
        paginated = [a for p in eks.get_paginator("list_access_entries").paginate(
            clusterName=mixed, PaginationConfig={"PageSize": 1}) for a in p["accessEntries"]]
        check(sorted(paginated) == everything, "boto3 paginator")
        check(sorted(eks.list_access_entries(clusterName=mixed, associatedPolicyArn=VIEW)["accessEntries"])
              == sorted([DEV, OPS]), "associatedPolicyArn filter (View: dev and ops)")
        check(eks.list_access_entries(clusterName=mixed, associatedPolicyArn=EDIT)["accessEntries"] == [DEV],
              "associatedPolicyArn filter (Edit: dev)")
        check(eks.list_access_entries(clusterName=mixed, associatedPolicyArn=ADMIN)["accessEntries"] == [],
              "associatedPolicyArn filter (Admin: none)")
        expect_error("InvalidParameterException", 400, eks.list_access_entries, clusterName=mixed,
                     associatedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
        expect_error("ResourceNotFoundException", 404, eks.list_access_entries, clusterName=missing)

        # --- disassociate ---
        check(set(eks.disassociate_access_policy(clusterName=mixed, principalArn=DEV, policyArn=VIEW))
              == {"ResponseMetadata"}, "disassociate answers nothing")
        check([p["policyArn"] for p in eks.list_associated_access_policies(
            clusterName=mixed, principalArn=DEV)["associatedAccessPolicies"]] == [EDIT],
              "disassociated policy gone, the other kept")
        expect_error("ResourceNotFoundException", 404, eks.disassociate_access_policy, clusterName=mixed,
                     principalArn=DEV, policyArn=VIEW)
        expect_error("ResourceNotFoundException", 404, eks.disassociate_access_policy, clusterName=mixed,
                     principalArn=f"arn:aws:iam::{ACCOUNT}:role/nobody", policyArn=VIEW)

        # --- list access policies ---
        policies = eks.list_access_policies()["accessPolicies"]
        by_arn = {p["arn"]: p["name"] for p in policies}
        check(all(set(p) == {"name", "arn"} for p in policies)
              and {VIEW, EDIT, ADMIN, CLUSTER_ADMIN} <= set(by_arn)
              and by_arn[CLUSTER_ADMIN] == "AmazonEKSClusterAdminPolicy",
              f"list access policies ({len(policies)}: name + arn)")
        first = eks.list_access_policies(maxResults=2)
        check(len(first["accessPolicies"]) == 2 and "nextToken" in first, "list access policies pagination")

        # --- update ---
        time.sleep(0.01)
        updated = eks.update_access_entry(clusterName=mixed, principalArn=DEV, kubernetesGroups=["dev-writers", "x"],
                                          username="dev", clientRequestToken=str(uuid.uuid4()))["accessEntry"]
        check(updated["kubernetesGroups"] == ["dev-writers", "x"] and updated["username"] == "dev"
              and updated["createdAt"] == dev["createdAt"] and updated["modifiedAt"] > dev["modifiedAt"]
              and updated["accessEntryArn"] == dev["accessEntryArn"],
              "update replaces groups and username, moves modifiedAt")
        kept = eks.update_access_entry(clusterName=mixed, principalArn=DEV, kubernetesGroups=[])["accessEntry"]
        check(kept["kubernetesGroups"] == [] and kept["username"] == "dev",
              "update with groups [] clears them, username kept when left out")
        check(eks.describe_access_entry(clusterName=mixed, principalArn=DEV)["accessEntry"] == kept,
              "describe reflects the update")
        expect_error("ResourceNotFoundException", 404, eks.update_access_entry, clusterName=mixed,
                     principalArn=f"arn:aws:iam::{ACCOUNT}:role/nobody", kubernetesGroups=["a"])
        expect_error("InvalidParameterException", 400, eks.update_access_entry, clusterName=mixed,
                     principalArn=NODE, kubernetesGroups=["a"])
        expect_error("InvalidParameterException", 400, eks.update_access_entry, clusterName=mixed,
                     principalArn=DEV, username="eks:dev")

        # --- tags on the access entry ARN ---
        arn = dev["accessEntryArn"]
        eks.tag_resource(resourceArn=arn, tags={"owner": "smoke"})
        eks.untag_resource(resourceArn=arn, tagKeys=["infra:env"])
        check(eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"owner": "smoke"},
              "tag/untag/list tags on the access entry ARN")
        check(eks.describe_access_entry(clusterName=mixed, principalArn=DEV)["accessEntry"]["tags"]
              == {"owner": "smoke"}, "describe shows the entry's tags")
        expect_error("ResourceNotFoundException", 404, eks.list_tags_for_resource,
                     resourceArn=arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000")

        # --- delete ---
        check(set(eks.delete_access_entry(clusterName=mixed, principalArn=DEV)) == {"ResponseMetadata"},
              "delete answers nothing")
        expect_error("ResourceNotFoundException", 404, eks.describe_access_entry, clusterName=mixed, principalArn=DEV)
        expect_error("ResourceNotFoundException", 404, eks.delete_access_entry, clusterName=mixed, principalArn=DEV)
        expect_error("ResourceNotFoundException", 404, eks.list_tags_for_resource, resourceArn=arn)
        check(sorted(eks.list_access_entries(clusterName=mixed)["accessEntries"]) == sorted([OPS, OTHER, NODE]),
              "deleted entry not listed")
        recreated = eks.create_access_entry(clusterName=mixed, principalArn=DEV, clientRequestToken=token)["accessEntry"]
        check(recreated["accessEntryArn"] != dev["accessEntryArn"]
              and eks.list_associated_access_policies(clusterName=mixed, principalArn=DEV)["associatedAccessPolicies"] == [],
              "recreated entry: new ARN, the deleted entry's policy associations gone")
        check(eks.list_access_entries(clusterName=mixed, associatedPolicyArn=EDIT)["accessEntries"] == [],
              "no entry left with the Edit policy")

        # --- switching CONFIG_MAP -> API_AND_CONFIG_MAP opens the API ---
        eks.update_cluster_config(name=config_map, accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
        eks.create_access_entry(clusterName=config_map, principalArn=DEV)
        check(eks.list_access_entries(clusterName=config_map)["accessEntries"] == [DEV],
              "after the switch to API_AND_CONFIG_MAP, access entries work")

        # --- gone with the cluster ---
        eks.delete_cluster(name=mixed)
        expect_error("ResourceNotFoundException", 404, eks.list_access_entries, clusterName=mixed)
        eks.create_cluster(name=mixed, version="1.31", roleArn=CLUSTER_ROLE, resourcesVpcConfig={"subnetIds": subnets},
                           accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False})
        check(eks.list_access_entries(clusterName=mixed)["accessEntries"] == [],
              "access entries deleted with their cluster")
        expect_error("ResourceNotFoundException", 404, eks.list_tags_for_resource, resourceArn=ops["accessEntryArn"])
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
    print("smoke_access_entries: FAILED" if failed else "smoke_access_entries: passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    t0 = time.monotonic()
    rc = main()
    print(f"smoke_access_entries took {time.monotonic() - t0:.1f} s")
    sys.exit(rc)
