"""
EKS patches of moto's backend.

UpdateClusterConfig: merge ``resourcesVpcConfig`` instead of replacing it.

On AWS, fields left out of UpdateClusterConfig's ``resourcesVpcConfig`` keep their
values (and subnet ids cannot be changed at all by most callers). moto replaces the
whole dict, so an update that sends only ``publicAccessCidrs`` makes the cluster's
subnet ids read back empty. Imported by the EKS provider factory; applies on import,
once, in the style of LocalStack's own moto patches (``localstack.utils.patch``).

accessConfig: moto ignores CreateCluster's ``accessConfig``. Every moto cluster gets
AWS's defaults (``authenticationMode`` CONFIG_MAP, ``bootstrapClusterCreatorAdminPermissions``
true) and CreateCluster stores the requested one (checked as AWS does), as the
attribute ``access_config``, which moto's serializer answers as ``accessConfig`` in
CreateCluster/DescribeCluster/DeleteCluster. UpdateClusterConfig's ``accessConfig`` is
applied by eks_handlers.py.

With ``bootstrapClusterCreatorAdminPermissions`` true and the API or API_AND_CONFIG_MAP
mode, CreateCluster also makes the creator's access entry (the caller's IAM principal;
the account root for LocalStack's ``test`` credentials) with AmazonEKSClusterAdminPolicy,
as AWS does (eks_handlers.bootstrap_creator_access_entry).

DeleteCluster: drop the cluster's add-ons, updates, pod identity associations and access
entries kept by eks_handlers.py (AWS deletes them with their cluster). moto already
refuses (ResourceInUseException) while node groups exist.
"""

import uuid

from localstack.utils.patch import patch
from moto.eks.exceptions import InvalidParameterException
from moto.eks.models import Cluster, EKSBackend
from moto.eks.responses import EKSResponse

from infra_localstack_plugin.eks_handlers import (
    bootstrap_creator_access_entry,
    forget_cluster,
    new_access_config,
)


@patch(Cluster.__init__)
def cluster_init(fn, self, *args, **kwargs):
    fn(self, *args, **kwargs)
    self.access_config = new_access_config(None)
    # moto draws the OIDC issuer id once per process, so every cluster shares
    # one issuer (and one IAM OIDC provider URL). AWS gives each cluster its own.
    issuer = self.identity["oidc"]["issuer"]
    base = issuer.rsplit("/id/", 1)[0]
    self.identity = {"oidc": {"issuer": f"{base}/id/{uuid.uuid4().hex[:32].upper()}"}}


@patch(EKSResponse.create_cluster)
def create_cluster(fn, self):
    try:  # checked before moto creates the cluster
        access_config = new_access_config(self._get_param("accessConfig"))
    except ValueError as e:
        raise InvalidParameterException(
            clusterName=self._get_param("name"), nodegroupName=None,
            fargateProfileName=None, addonName=None, message=str(e),
        )
    result = fn(self)  # ActionResult({"cluster": cluster}), serialized later
    cluster = result.result["cluster"]
    cluster.access_config = access_config
    if access_config["bootstrapClusterCreatorAdminPermissions"] and \
            access_config["authenticationMode"] != "CONFIG_MAP":
        bootstrap_creator_access_entry(self.current_account, self.region, cluster,
                                       _caller_principal_arn(self, cluster.arn.split(":")[1]))
    return result


def _caller_principal_arn(response, partition):
    """The IAM principal of the request, as STS GetCallerIdentity answers it on LocalStack
    (credentials moto does not know, like ``test``: the account root), an assumed role
    given as its IAM role ARN (access entries take roles, not STS sessions)."""
    from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header
    from moto.sts.models import sts_backends

    account = response.current_account
    arn = f"arn:{partition}:iam::{account}:root"
    try:
        access_key = extract_access_key_id_from_auth_header(response.headers)
        _, caller, _ = sts_backends[account][partition].get_caller_identity(access_key, response.region)
    except Exception:  # no usable credentials: the root, as LocalStack's STS answers
        return arn
    if ":assumed-role/" in caller:  # arn:aws:sts::<account>:assumed-role/<role>/<session>
        prefix, role = caller.split(":assumed-role/", 1)
        return prefix.replace(":sts:", ":iam:", 1) + ":role/" + role.split("/", 1)[0]
    if ":sts:" in caller:  # moto's default caller (arn:aws:sts::<account>:user/moto)
        return arn
    return caller


@patch(EKSBackend.update_cluster_config)
def update_cluster_config(fn, self, name, resources_vpc_config=None, *args, **kwargs):
    cluster = self.clusters.get(name)
    if cluster is not None and resources_vpc_config:
        merged = dict(cluster.resources_vpc_config or {})
        merged.update(resources_vpc_config)
        resources_vpc_config = merged
    return fn(self, name, resources_vpc_config, *args, **kwargs)


@patch(EKSBackend.delete_cluster)
def delete_cluster(fn, self, name):
    cluster = fn(self, name)
    forget_cluster(self.account_id, self.region_name, name)
    return cluster


def _nodegroup_by_arn(backend, arn):
    for cluster in backend.clusters.values():
        for nodegroup in cluster.nodegroups.values():
            if nodegroup.arn == arn:
                return nodegroup
    return None


# moto tags clusters only; AWS tags managed node groups through the same calls.
@patch(EKSBackend.tag_resource)
def tag_resource(fn, self, resource_arn, tags):
    nodegroup = _nodegroup_by_arn(self, resource_arn)
    if nodegroup is None:
        return fn(self, resource_arn, tags)
    nodegroup.tags.update(tags)


@patch(EKSBackend.untag_resource)
def untag_resource(fn, self, resource_arn, tag_keys):
    nodegroup = _nodegroup_by_arn(self, resource_arn)
    if nodegroup is None:
        return fn(self, resource_arn, tag_keys)
    for key in tag_keys if isinstance(tag_keys, list) else [tag_keys]:
        nodegroup.tags.pop(key, None)
