"""
RDS (moto): keep a modified DB subnet group; report Performance Insights.

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


# Performance Insights: moto accepts EnablePerformanceInsights and drops it, so
# DescribeDBInstances said it was off; AWS reports PerformanceInsightsEnabled.
def _performance_insights(db_kwargs):
    for key in ("enable_performance_insights", "EnablePerformanceInsights"):
        if key in db_kwargs and db_kwargs[key] is not None:
            value = db_kwargs[key]
            return value if isinstance(value, bool) else str(value).lower() == "true"
    return None


@patch(RDSBackend.create_db_instance)
def create_db_instance(fn, self, db_kwargs):
    database = fn(self, db_kwargs)
    database.performance_insights_enabled = bool(_performance_insights(db_kwargs))
    return database


@patch(RDSBackend.modify_db_instance)
def modify_db_instance(fn, self, db_instance_identifier, db_kwargs):
    requested = _performance_insights(db_kwargs)
    database = fn(self, db_instance_identifier, db_kwargs)
    if requested is not None:
        database.performance_insights_enabled = requested
    return database
