"""
RDS (moto) ModifyDBSubnetGroup: keep the group.

moto's ``RDSBackend.modify_db_subnet_group`` pops the group out of
``subnet_groups`` to change it and never puts it back, so the group vanishes after
any modify (AWS keeps it, same name, same ARN and tags). Applied by the
``on_infra_start`` hook (hooks.py).
"""

from localstack.utils.patch import patch
from moto.rds.models import RDSBackend


@patch(RDSBackend.modify_db_subnet_group)
def modify_db_subnet_group(fn, self, subnet_name, description, subnets):
    group = fn(self, subnet_name, description, subnets)
    self.subnet_groups[subnet_name] = group
    return group
