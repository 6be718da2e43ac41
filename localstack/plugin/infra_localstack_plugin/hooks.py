"""
LocalStack runtime hooks of the plugin (entry-point group
``localstack.hooks.on_infra_start``, see pyproject.toml).

Patches for moto models that LocalStack's own providers serve (EC2) cannot be applied
from our provider factories: those only run when EKS/RDS/ELBv2 load, which may be
after EC2 was used. An ``on_infra_start`` hook runs once at emulator start, before any
request. Default priority (0) runs after LocalStack's ``apply_aws_runtime_patches``
(priority 100), which must patch moto's base classes before moto models are imported.
"""

from localstack.runtime import hooks


@hooks.on_infra_start()
def infra_apply_moto_patches():
    from infra_localstack_plugin import ec2_patches  # noqa: F401  (patches on import)
    from infra_localstack_plugin import rds_patches  # noqa: F401
