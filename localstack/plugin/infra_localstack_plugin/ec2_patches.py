"""
EC2 security group rules that reference a security group: keep their Description.

moto's ``SecurityGroupRule.description`` reads only ``ip_range``, so
DescribeSecurityGroupRules drops the description of rules built from a
``UserIdGroupPair`` (``ReferencedGroupInfo``); AWS returns it. moto's
ModifySecurityGroupRules writes a new description into ``ip_range`` too, so the rule
and DescribeSecurityGroups' ``UserIdGroupPairs`` disagree afterwards, and it ignores a
changed ``ReferencedGroupId``. EC2 is LocalStack's own provider, so these patches are
applied by an ``on_infra_start`` hook (hooks.py), before any request is served.

Also: DescribeNatGateways honours the tag filters (``tag:<key>``, ``tag-key``,
``tag-value``), which moto ignores (see the end of this module).
"""

from localstack.utils.patch import Patch, patch
from moto.ec2.exceptions import InvalidSecurityGroupNotFoundError
from moto.ec2.models.nat_gateways import NatGatewayBackend
from moto.ec2.models.security_groups import SecurityGroupBackend, SecurityGroupRule
from moto.ec2.utils import is_tag_filter, tag_filter_matches


def _description(rule: SecurityGroupRule):
    # A rule has either an ip_range (CIDR) or a source_group (UserIdGroupPair).
    return (rule.ip_range or rule.source_group).get("Description")


# `description` is a property, so replace it whole (patch() wraps plain functions).
Patch(SecurityGroupRule, "description", property(_description)).apply()


@patch(SecurityGroupBackend.modify_security_group_rules)
def modify_security_group_rules(fn, self, group_id, rules):
    for new in rules.values():
        ref = new.get("ReferencedGroupId")
        if ref and self.get_security_group_by_name_or_id(ref) is None:
            raise InvalidSecurityGroupNotFoundError(ref)
    fn(self, group_id, rules)
    group = self.get_security_group_by_name_or_id(group_id)
    for rule_id, new in rules.items():
        rule = group.get_rule(rule_id)
        if not rule.source_group:
            continue
        # moto put the description into the (empty) ip_range; it belongs to the pair.
        description = rule.ip_range.pop("Description", None)
        if description is not None:
            rule.source_group["Description"] = description
        if new.get("ReferencedGroupId"):
            rule.source_group["GroupId"] = new["ReferencedGroupId"]


# --- DescribeNatGateways: tag filters --------------------------------------------------
# moto's NatGatewayBackend.describe_nat_gateways knows only the nat-gateway-id, vpc-id,
# subnet-id and state filters and silently ignores the rest, so `tag:<key>`, `tag-key`
# and `tag-value` return every NAT gateway (AWS: only the matching ones). NatGateway is a
# TaggedEC2Resource, so moto's own tag_filter_matches (wildcards `*`/`?` included)
# applies: the tag filters are taken out, moto filters on the rest, then each tag
# filter must match (values of one filter are ORed, filters are ANDed, as on AWS).


@patch(NatGatewayBackend.describe_nat_gateways)
def describe_nat_gateways(fn, self, filters, nat_gateway_ids):
    tag_filters = {}
    if filters:
        tag_filters = {k: v for k, v in filters.items() if is_tag_filter(k)}
        filters = {k: v for k, v in filters.items() if not is_tag_filter(k)}
    nat_gateways = fn(self, filters, nat_gateway_ids)
    for name, values in tag_filters.items():
        nat_gateways = [n for n in nat_gateways if tag_filter_matches(n, name, values)]
    return nat_gateways
