"""A role's default policy, as CDK creates it when a statement or a grant is added: where the
acknowledgements of its findings go, and what a resource must wait for (not the role itself,
which the resource's reference to it already implies: cfn-lint W3005)."""

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def default_policy(role: iam.IRole) -> IConstruct:
    """The ``DefaultPolicy`` construct CDK made for ``role`` (it must have statements)."""
    return role.node.find_child("DefaultPolicy")


def depend_on_policy_only(resource: IConstruct, role: iam.IRole) -> None:
    """Order ``resource`` after ``role``'s default policy alone. CDK orders a resource that
    names a role after the role and its policy; the role is already implied by the reference,
    and cfn-lint flags the repeated dependency (W3005). The policy must stay: the resource's
    service checks the permissions when it is created."""
    resource_element = resource.node.default_child
    policy_element = default_policy(role).node.default_child
    assert isinstance(resource_element, CfnResource)
    assert isinstance(policy_element, CfnResource)
    resource_element.add_override("DependsOn", [Stack.of(resource).get_logical_id(policy_element)])
