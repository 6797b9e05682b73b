"""Naming filters and answer validators for the template.

Every validator returns an empty string for a good answer, or a message that names the
question, the refused value and the rule: copier shows it and writes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2.ext import Extension

# Availability zones per region, kept here so synth never looks them up. Only zones that
# every account can use are listed (e.g. ap-northeast-1b and us-east-1e are closed to new
# accounts); regions with two usable zones cap every sizing at two.
REGION_AVAILABILITY_ZONES: dict[str, tuple[str, ...]] = {
    "us-east-1": ("us-east-1a", "us-east-1b", "us-east-1c"),
    "us-east-2": ("us-east-2a", "us-east-2b", "us-east-2c"),
    "us-west-1": ("us-west-1b", "us-west-1c"),
    "us-west-2": ("us-west-2a", "us-west-2b", "us-west-2c"),
    "ca-central-1": ("ca-central-1a", "ca-central-1b", "ca-central-1d"),
    "sa-east-1": ("sa-east-1a", "sa-east-1b", "sa-east-1c"),
    "eu-west-1": ("eu-west-1a", "eu-west-1b", "eu-west-1c"),
    "eu-west-2": ("eu-west-2a", "eu-west-2b", "eu-west-2c"),
    "eu-west-3": ("eu-west-3a", "eu-west-3b", "eu-west-3c"),
    "eu-central-1": ("eu-central-1a", "eu-central-1b", "eu-central-1c"),
    "eu-north-1": ("eu-north-1a", "eu-north-1b", "eu-north-1c"),
    "ap-northeast-1": ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"),
    "ap-northeast-2": ("ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"),
    "ap-northeast-3": ("ap-northeast-3a", "ap-northeast-3b", "ap-northeast-3c"),
    "ap-southeast-1": ("ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"),
    "ap-southeast-2": ("ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c"),
    "ap-south-1": ("ap-south-1a", "ap-south-1b", "ap-south-1c"),
}

ENVIRONMENT_ORDER: tuple[str, ...] = ("dev", "staging", "prod")

# The longest name derived from service_name is the load balancer's "<service>-<env>",
# limited by AWS to 32 characters; "staging" is the longest environment name.
LOAD_BALANCER_NAME_LIMIT = 32
SERVICE_NAME_MAX_LENGTH = LOAD_BALANCER_NAME_LIMIT - len("-staging")

_SERVICE_NAME = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")
_ACCOUNT_ID = re.compile(r"\d{12}")
# GitHub owners: alphanumerics and single inner hyphens, at most 39 characters.
# Repository names: alphanumerics, '-', '_' and '.', at most 100 characters, not '.' or '..'.
_GITHUB_REPOSITORY = re.compile(
    r"(?=[A-Za-z0-9-]{1,39}/)[A-Za-z0-9](?:-?[A-Za-z0-9])*/(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}"
)
_DOMAIN_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN_NAME = re.compile(rf"(?=.{{1,253}}$){_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+")
_HOSTED_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,31}")
_HEALTH_CHECK_PATH = re.compile(r"/[A-Za-z0-9/_.-]{0,120}")
_QUALIFIER = re.compile(r"[a-z0-9]{1,10}")


def pascal_case(value: str) -> str:
    """'orders-api' -> 'OrdersApi': the prefix of stack ids and CloudFormation names."""
    return "".join(part.capitalize() for part in re.split(r"[-_\s]+", value) if part)


def snake_case(value: str) -> str:
    """'orders-api' -> 'orders_api': the Python package name."""
    return re.sub(r"[-\s]+", "_", value).lower()


def default_qualifier(service_name: str) -> str:
    """A bootstrap qualifier from the service name: its letters and digits, at most 10."""
    return re.sub(r"[^a-z0-9]", "", str(service_name).lower())[:10] or "service"


def service_name_error(value: str) -> str:
    if not _SERVICE_NAME.fullmatch(value):
        return (
            f"service_name: {value!r} must use lowercase letters, digits and hyphens, "
            "start with a letter and not end with a hyphen"
        )
    if "--" in value:
        return f"service_name: {value!r} must not contain two hyphens in a row"
    if len(value) > SERVICE_NAME_MAX_LENGTH:
        return (
            f"service_name: {value!r} is {len(value)} characters; at most "
            f"{SERVICE_NAME_MAX_LENGTH} are allowed so that the load balancer name "
            f"'<service>-staging' fits AWS's {LOAD_BALANCER_NAME_LIMIT}-character limit"
        )
    return ""


def account_id_error(value: str, question: str) -> str:
    if not _ACCOUNT_ID.fullmatch(str(value)):
        return f"{question}: {value!r} is not an AWS account id (exactly 12 digits)"
    return ""


def region_error(value: str) -> str:
    if value not in REGION_AVAILABILITY_ZONES:
        known = ", ".join(sorted(REGION_AVAILABILITY_ZONES))
        return f"aws_region: {value!r} is not a region this template knows ({known})"
    return ""


def github_repository_error(value: str) -> str:
    if not _GITHUB_REPOSITORY.fullmatch(value):
        return (
            f"github_repository: {value!r} must be 'owner/name' with GitHub's characters "
            "(owner: letters, digits and single inner hyphens, up to 39; "
            "name: letters, digits, '.', '-' and '_', up to 100)"
        )
    return ""


def domain_name_error(value: str) -> str:
    if value and not _DOMAIN_NAME.fullmatch(value):
        return (
            f"domain_name: {value!r} must be a lowercase DNS name such as "
            "'orders.example.com', or empty for none"
        )
    return ""


def hosted_zone_id_error(value: str, domain_name: str) -> str:
    if not domain_name:
        return ""
    if not value:
        return f"hosted_zone_id: required when domain_name is set (domain_name={domain_name!r})"
    if not _HOSTED_ZONE_ID.fullmatch(value):
        return f"hosted_zone_id: {value!r} is not a Route 53 hosted zone id (e.g. Z0123456789ABC)"
    return ""


def hosted_zone_name_error(value: str, domain_name: str) -> str:
    if not domain_name:
        return ""
    if domain_error := domain_name_error(value):
        return domain_error.replace("domain_name:", "hosted_zone_name:", 1)
    if domain_name != value and not domain_name.endswith(f".{value}"):
        return f"hosted_zone_name: {value!r} must be domain_name {domain_name!r} or a parent of it"
    return ""


def health_check_path_error(value: str) -> str:
    if not _HEALTH_CHECK_PATH.fullmatch(value):
        return (
            f"health_check_path: {value!r} must start with '/' and use only letters, "
            "digits, '/', '_', '.' and '-'"
        )
    return ""


def cdk_qualifier_error(value: str) -> str:
    if not _QUALIFIER.fullmatch(value):
        return f"cdk_qualifier: {value!r} must be 1 to 10 lowercase letters and digits"
    return ""


FILTERS: dict[str, Any] = {
    "pascal_case": pascal_case,
    "snake_case": snake_case,
    "default_qualifier": default_qualifier,
    "service_name_error": service_name_error,
    "account_id_error": account_id_error,
    "region_error": region_error,
    "github_repository_error": github_repository_error,
    "domain_name_error": domain_name_error,
    "hosted_zone_id_error": hosted_zone_id_error,
    "hosted_zone_name_error": hosted_zone_name_error,
    "health_check_path_error": health_check_path_error,
    "cdk_qualifier_error": cdk_qualifier_error,
}


class NamingExtension(Extension):
    """Registers the naming filters and answer validators with copier's Jinja environment."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        environment.filters.update(FILTERS)
