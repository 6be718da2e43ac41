"""Smoke test of the EKS operations the provider plugin serves itself (not moto).

Run after start.sh:  $VENV/bin/python smoke_eks.py [ENDPOINT]
Creates a VPC + 2 subnets, an EKS cluster (1.31) with a node group, then exercises
DescribeAddonVersions, CreateAddon/DescribeAddon/ListAddons/UpdateAddon/DeleteAddon,
UpdateNodegroupConfig, UpdateClusterVersion, UpdateClusterConfig's `update` and
DescribeUpdate, the cluster's accessConfig (CreateCluster, DescribeCluster,
UpdateClusterConfig's one-way authenticationMode steps), tags on add-on ARNs, the AWS error codes, DeleteCluster refused while a node group exists, and
add-ons gone with their cluster; deletes everything it created. Exits non-zero on failure.
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


def check_update(update, type_, cluster, **scope):
    check(update["status"] == "Successful" and update["type"] == type_, f"{type_} Successful")
    got = eks.describe_update(name=cluster, updateId=update["id"], **scope)["update"]
    check(got["id"] == update["id"] and got["params"] == update["params"], f"describe_update {type_}")


def main() -> int:
    suffix = uuid.uuid4().hex[:8]
    cleanup = []  # (description, callable), run in reverse order
    failed = False
    try:
        vpc_id = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
        cleanup.append((f"vpc {vpc_id}", lambda: ec2.delete_vpc(VpcId=vpc_id)))
        subnets = []
        for i, az in enumerate(("us-east-1a", "us-east-1b")):
            sid = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.43.{i}.0/24", AvailabilityZone=az)[
                "Subnet"
            ]["SubnetId"]
            subnets.append(sid)
            cleanup.append((f"subnet {sid}", lambda sid=sid: ec2.delete_subnet(SubnetId=sid)))

        cluster = f"smoke-eks-{suffix}"
        eks.create_cluster(name=cluster, version="1.31", roleArn=ROLE,
                           resourcesVpcConfig={"subnetIds": subnets})
        cleanup.append((f"eks cluster {cluster}", lambda: eks.delete_cluster(name=cluster)))
        ng = "workers"
        eks.create_nodegroup(
            clusterName=cluster, nodegroupName=ng, nodeRole=ROLE, subnets=subnets, version="1.31",
            scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2},
            labels={"role": "general", "old": "x"},
            taints=[{"key": "dedicated", "value": "infra", "effect": "NO_SCHEDULE"}],
        )
        cleanup.append((f"node group {ng}", lambda: eks.delete_nodegroup(clusterName=cluster, nodegroupName=ng)))
        check(eks.describe_nodegroup(clusterName=cluster, nodegroupName=ng)["nodegroup"]["status"] == "ACTIVE",
              "cluster 1.31 + node group ACTIVE")

        # --- DescribeAddonVersions ---
        infos = eks.describe_addon_versions(addonName="coredns", kubernetesVersion="1.31")["addons"]
        check([i["addonName"] for i in infos] == ["coredns"], "describe_addon_versions filters by addonName")
        versions = infos[0]["addonVersions"]
        check(len(versions) >= 2, f"coredns has {len(versions)} versions for 1.31")
        compat = [c for v in versions for c in v["compatibilities"]]
        check({c["clusterVersion"] for c in compat} == {"1.31"}, "compatibilities filtered to 1.31")
        check(sum(c["defaultVersion"] for c in compat) == 1, "exactly one default coredns version for 1.31")
        default_cni = next(
            v["addonVersion"]
            for v in eks.describe_addon_versions(addonName="vpc-cni", kubernetesVersion="1.31")["addons"][0]["addonVersions"]
            if v["compatibilities"][0]["defaultVersion"]
        )
        names = {i["addonName"] for i in eks.describe_addon_versions(kubernetesVersion="1.33")["addons"]}
        check(names == {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"}, "catalogue for 1.33")

        # --- add-ons ---
        addon = eks.create_addon(
            clusterName=cluster, addonName="vpc-cni", serviceAccountRoleArn=ROLE,
            resolveConflicts="OVERWRITE", tags={"infra:env": "smoke"},
            configurationValues='{"env": {"ENABLE_PREFIX_DELEGATION": "true"}}',
        )["addon"]
        check(addon["status"] == "ACTIVE" and addon["addonVersion"] == default_cni,
              f"create_addon vpc-cni ACTIVE at default version {default_cni}")
        check(re.fullmatch(rf"arn:aws:eks:us-east-1:000000000000:addon/{cluster}/vpc-cni/[0-9a-f-]{{36}}",
                           addon["addonArn"]) is not None, f"addon arn {addon['addonArn']}")
        check(addon["tags"] == {"infra:env": "smoke"} and addon["serviceAccountRoleArn"] == ROLE
              and "resolveConflicts" not in addon and "createdAt" in addon and "modifiedAt" in addon,
              "addon tags, role, timestamps; resolveConflicts not echoed")
        eks.tag_resource(resourceArn=addon["addonArn"], tags={"owner": "smoke"})
        eks.untag_resource(resourceArn=addon["addonArn"], tagKeys=["infra:env"])
        check(eks.list_tags_for_resource(resourceArn=addon["addonArn"])["tags"] == {"owner": "smoke"},
              "tag/untag/list tags on the add-on ARN")
        cluster_arn = eks.describe_cluster(name=cluster)["cluster"]["arn"]
        eks.tag_resource(resourceArn=cluster_arn, tags={"owner": "smoke"})
        check(eks.list_tags_for_resource(resourceArn=cluster_arn)["tags"] == {"owner": "smoke"},
              "tags on the cluster ARN still served by moto")
        eks.get_waiter("addon_active").wait(clusterName=cluster, addonName="vpc-cni",
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 3})
        check(True, "addon_active waiter")
        eks.create_addon(clusterName=cluster, addonName="coredns", addonVersion="v1.11.3-eksbuild.2")
        expect_error("ResourceInUseException", 409, eks.create_addon, clusterName=cluster, addonName="vpc-cni")
        expect_error("ResourceNotFoundException", 404, eks.create_addon, clusterName=f"missing-{suffix}",
                     addonName="vpc-cni")
        expect_error("InvalidParameterException", 400, eks.create_addon, clusterName=cluster,
                     addonName="no-such-addon")
        expect_error("InvalidParameterException", 400, eks.create_addon, clusterName=cluster,
                     addonName="kube-proxy", addonVersion="v1.33.3-eksbuild.4")  # not for 1.31
        check(eks.list_addons(clusterName=cluster)["addons"] == ["coredns", "vpc-cni"], "list_addons")
        page = eks.list_addons(clusterName=cluster, maxResults=1)
        rest = eks.list_addons(clusterName=cluster, maxResults=1, nextToken=page["nextToken"])
        check(page["addons"] + rest["addons"] == ["coredns", "vpc-cni"] and "nextToken" not in rest,
              "list_addons pagination")

        update = eks.update_addon(clusterName=cluster, addonName="coredns",
                                  addonVersion="v1.11.4-eksbuild.14", resolveConflicts="PRESERVE")["update"]
        check_update(update, "AddonUpdate", cluster, addonName="coredns")
        got = eks.describe_addon(clusterName=cluster, addonName="coredns")["addon"]
        check(got["addonVersion"] == "v1.11.4-eksbuild.14", "describe_addon reflects update_addon")
        expect_error("ResourceNotFoundException", 404, eks.describe_update, name=cluster,
                     updateId=update["id"])  # an add-on update needs addonName

        # --- UpdateNodegroupConfig ---
        update = eks.update_nodegroup_config(
            clusterName=cluster, nodegroupName=ng,
            scalingConfig={"minSize": 2, "maxSize": 6, "desiredSize": 4},
            labels={"addOrUpdateLabels": {"role": "system", "tier": "1"}, "removeLabels": ["old"]},
            taints={"addOrUpdateTaints": [{"key": "gpu", "value": "true", "effect": "NO_EXECUTE"}],
                    "removeTaints": [{"key": "dedicated", "value": "infra", "effect": "NO_SCHEDULE"}]},
        )["update"]
        check_update(update, "ConfigUpdate", cluster, nodegroupName=ng)
        got = eks.describe_nodegroup(clusterName=cluster, nodegroupName=ng)["nodegroup"]
        check(got["scalingConfig"] == {"minSize": 2, "maxSize": 6, "desiredSize": 4}, "nodegroup scalingConfig updated")
        check(got["labels"] == {"role": "system", "tier": "1"}, "nodegroup labels updated")
        check(got["taints"] == [{"key": "gpu", "value": "true", "effect": "NO_EXECUTE"}], "nodegroup taints updated")
        expect_error("InvalidParameterException", 400, eks.update_nodegroup_config, clusterName=cluster,
                     nodegroupName=ng, scalingConfig={"minSize": 5, "maxSize": 6, "desiredSize": 4})
        expect_error("ResourceNotFoundException", 404, eks.update_nodegroup_config, clusterName=cluster,
                     nodegroupName="missing", scalingConfig={"desiredSize": 1})

        # --- UpdateClusterVersion, UpdateClusterConfig ---
        expect_error("InvalidParameterException", 400, eks.update_cluster_version, name=cluster, version="1.33")
        update = eks.update_cluster_version(name=cluster, version="1.32")["update"]
        check_update(update, "VersionUpdate", cluster)
        check(eks.describe_cluster(name=cluster)["cluster"]["version"] == "1.32", "describe_cluster version 1.32")
        update = eks.update_cluster_config(name=cluster, resourcesVpcConfig={"publicAccessCidrs": ["203.0.113.0/24"]})[
            "update"
        ]
        check_update(update, "EndpointAccessUpdate", cluster)
        expect_error("ResourceNotFoundException", 404, eks.describe_update, name=cluster, updateId=str(uuid.uuid4()))

        # --- accessConfig (moto ignores it; eks_patches.py / eks_handlers.py) ---
        got = eks.describe_cluster(name=cluster)["cluster"].get("accessConfig")
        check(got == {"authenticationMode": "CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": True},
              f"cluster created without accessConfig: CONFIG_MAP, bootstrap true (got {got})")
        cluster2 = f"smoke-eks-{suffix}-access"
        created = eks.create_cluster(name=cluster2, version="1.31", roleArn=ROLE,
                                     resourcesVpcConfig={"subnetIds": subnets},
                                     accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})["cluster"]
        cleanup.append((f"eks cluster {cluster2}", lambda: eks.delete_cluster(name=cluster2)))
        want = {"authenticationMode": "API_AND_CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": True}
        check(created.get("accessConfig") == want, "create_cluster answers accessConfig API_AND_CONFIG_MAP")
        got = eks.describe_cluster(name=cluster2)["cluster"].get("accessConfig")
        check(got == want, f"describe_cluster accessConfig API_AND_CONFIG_MAP (got {got})")
        update = eks.update_cluster_config(name=cluster2, accessConfig={"authenticationMode": "API"})["update"]
        check(update["params"] == [{"type": "AuthenticationMode", "value": "API"}], "AccessConfigUpdate params")
        check_update(update, "AccessConfigUpdate", cluster2)
        got = eks.describe_cluster(name=cluster2)["cluster"]["accessConfig"]
        check(got["authenticationMode"] == "API" and got["bootstrapClusterCreatorAdminPermissions"] is True,
              "describe_cluster authenticationMode API after update_cluster_config")
        for back in ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API"):  # never back, nor to the same mode
            expect_error("InvalidParameterException", 400, eks.update_cluster_config, name=cluster2,
                         accessConfig={"authenticationMode": back})
        check(eks.describe_cluster(name=cluster2)["cluster"]["accessConfig"]["authenticationMode"] == "API",
              "refused updates leave authenticationMode API")
        # one step at a time: CONFIG_MAP -> API is refused, CONFIG_MAP -> API_AND_CONFIG_MAP is not
        expect_error("InvalidParameterException", 400, eks.update_cluster_config, name=cluster,
                     accessConfig={"authenticationMode": "API"})
        update = eks.update_cluster_config(name=cluster, accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
        check_update(update["update"], "AccessConfigUpdate", cluster)
        expect_error("InvalidParameterException", 400, eks.update_cluster_config, name=cluster,
                     accessConfig={"authenticationMode": "API"},
                     logging={"clusterLogging": [{"types": ["api"], "enabled": True}]})
        expect_error("ResourceNotFoundException", 404, eks.update_cluster_config, name=f"missing-{suffix}",
                     accessConfig={"authenticationMode": "API"})
        expect_error("InvalidParameterException", 400, eks.create_cluster, name=f"{cluster2}-x", roleArn=ROLE,
                     resourcesVpcConfig={"subnetIds": subnets},
                     accessConfig={"authenticationMode": "CONFIG_MAP",
                                   "bootstrapClusterCreatorAdminPermissions": False})
        expect_error("ResourceNotFoundException", 404, eks.describe_cluster, name=f"{cluster2}-x")  # not created
        created = eks.create_cluster(name=f"{cluster2}-y", roleArn=ROLE, resourcesVpcConfig={"subnetIds": subnets},
                                     accessConfig={"authenticationMode": "API",
                                                   "bootstrapClusterCreatorAdminPermissions": False})["cluster"]
        eks.delete_cluster(name=f"{cluster2}-y")
        check(created["accessConfig"] == {"authenticationMode": "API",
                                          "bootstrapClusterCreatorAdminPermissions": False},
              "create_cluster API with bootstrap false")
        eks.delete_cluster(name=cluster2)
        cleanup.pop()

        # --- deletes ---
        expect_error("ResourceInUseException", 409, eks.delete_cluster, name=cluster)
        deleted = eks.delete_addon(clusterName=cluster, addonName="coredns")["addon"]
        check(deleted["status"] == "DELETING", "delete_addon returns DELETING")
        expect_error("ResourceNotFoundException", 404, eks.describe_addon, clusterName=cluster, addonName="coredns")
        eks.delete_nodegroup(clusterName=cluster, nodegroupName=ng)
        cleanup.pop()
        eks.delete_cluster(name=cluster)  # vpc-cni is still installed: goes with the cluster
        eks.create_cluster(name=cluster, version="1.31", roleArn=ROLE, resourcesVpcConfig={"subnetIds": subnets})
        check(eks.list_addons(clusterName=cluster)["addons"] == [], "add-ons deleted with their cluster")
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
    print("smoke_eks: FAILED" if failed else "smoke_eks: passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    t0 = time.monotonic()
    rc = main()
    print(f"smoke_eks took {time.monotonic() - t0:.1f} s")
    sys.exit(rc)
