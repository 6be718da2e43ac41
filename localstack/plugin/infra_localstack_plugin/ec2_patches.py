"""
EC2 security group rules that reference a security group: keep their Description.

moto's ``SecurityGroupRule.description`` reads only ``ip_range``, so
DescribeSecurityGroupRules drops the description of rules built from a
``UserIdGroupPair`` (``ReferencedGroupInfo``); AWS returns it. moto's
ModifySecurityGroupRules writes a new description into ``ip_range`` too, so the rule
and DescribeSecurityGroups' ``UserIdGroupPairs`` disagree afterwards, and it ignores a
changed ``ReferencedGroupId``. EC2 is LocalStack's own provider, so these patches are
applied by an ``on_infra_start`` hook (hooks.py), before any request is served.
"""

from localstack.utils.patch import Patch, patch
from moto.ec2.exceptions import InvalidSecurityGroupNotFoundError
from moto.ec2.models.security_groups import SecurityGroupBackend, SecurityGroupRule


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
