"""
EKS patches of moto's backend.

UpdateClusterConfig: merge ``resourcesVpcConfig`` instead of replacing it.

On AWS, fields left out of UpdateClusterConfig's ``resourcesVpcConfig`` keep their
values (and subnet ids cannot be changed at all by most callers). moto replaces the
whole dict, so an update that sends only ``publicAccessCidrs`` makes the cluster's
subnet ids read back empty. Imported by the EKS provider factory; applies on import,
once, in the style of LocalStack's own moto patches (``localstack.utils.patch``).

DeleteCluster: drop the cluster's add-ons and updates kept by eks_handlers.py (AWS
deletes add-ons with their cluster). moto already refuses (ResourceInUseException)
while node groups exist.
"""

from localstack.utils.patch import patch
from moto.eks.models import EKSBackend

from infra_localstack_plugin.eks_handlers import forget_cluster


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
