"""
Service providers for APIs that LocalStack community does not expose, but whose moto
backends ship with it: EKS, RDS and ELBv2.

Shape follows ``localstack/services/providers.py``: a function decorated with
``@aws_provider()`` returns ``Service.for_provider(provider, dispatch_table_factory=...)``;
``aws_provider`` turns it into a plux ``PluginSpec`` named ``<api>:default`` in the
``localstack.aws.provider`` namespace, which pyproject.toml registers as entry points.

LocalStack has no generated ASF API classes (``localstack.aws.api.<service>``) for these
services, so there is no provider class to wrap with ``MotoFallbackDispatcher``. Instead
the dispatch table is built from the botocore service model: every operation goes to
``dispatch_to_moto``, whose raw HTTP response is returned unchanged (the skeleton skips
serialization for a ``Response``), so moto's AWS error codes and bodies reach the client
as they are. Operations moto has no route for answer 501 ``InternalFailure``
("No moto route for service ... found"), except the EKS operations that
``eks_handlers.HANDLERS`` serves (``EksDispatcher``).

Keep the imports inside the factories: the plugin loader imports this module while
resolving entry points, before any service is needed.
"""

from localstack.services.plugins import Service, aws_provider


class MotoProvider:
    """An ASF provider with no handlers of its own: moto serves every operation."""

    def __init__(self, service: str) -> None:
        self.service = service


def MotoDispatcher(provider: MotoProvider) -> dict:
    """Dispatch table: every operation of ``provider.service`` -> ``dispatch_to_moto``."""
    from localstack.aws.spec import load_service
    from localstack.services.moto import dispatch_to_moto

    def _to_moto(context, request):
        return dispatch_to_moto(context)

    return {op: _to_moto for op in load_service(provider.service).operation_names}


def EksDispatcher(provider: MotoProvider) -> dict:
    """moto for every operation, except those eks_handlers.py serves (moto has no route
    for them, or answers with the wrong shape)."""
    from infra_localstack_plugin.eks_handlers import HANDLERS

    return {**MotoDispatcher(provider), **HANDLERS}


@aws_provider()
def eks():
    # UpdateClusterConfig merges resourcesVpcConfig (as AWS does) instead of replacing it;
    # DeleteCluster drops the plugin's add-ons of the cluster.
    from infra_localstack_plugin import eks_patches  # noqa: F401  (patches on import)

    return Service.for_provider(MotoProvider("eks"), dispatch_table_factory=EksDispatcher)


@aws_provider()
def rds():
    # Load-order trap: LocalStack patches moto's FakeSecret when its Secrets Manager
    # provider module is imported. RDS (ManageMasterUserPassword) creates secrets through
    # moto; if they are created before the patch, every later DescribeSecret/ListSecrets
    # fails with HTTP 500 ('FakeSecret' object has no attribute 'last_accessed_date').
    import localstack.services.secretsmanager.provider  # noqa: F401

    return Service.for_provider(MotoProvider("rds"), dispatch_table_factory=MotoDispatcher)


@aws_provider()
def elbv2():
    return Service.for_provider(MotoProvider("elbv2"), dispatch_table_factory=MotoDispatcher)
