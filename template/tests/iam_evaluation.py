"""IAM's evaluation of one policy document, for the tests of the policies this app writes.

What the documents here use, as the IAM User Guide's "Policy evaluation logic" describes it:
`Action`/`NotAction` and `Resource`/`NotResource` with `*` and `?` wildcards (case-insensitive
actions), an explicit Deny over any Allow, and the conditions `StringEquals`, `StringNotEquals`
and `StringLike`. A condition key the request lacks fails a positive operator and satisfies a
negated one ("If the key ... is not present in the request context, the values do not match";
a `StringNotEquals` on a missing key is true). No AWS: the IAM policy simulator needs an account.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches_any(value: str, patterns: list[str], *, case_sensitive: bool) -> bool:
    if case_sensitive:
        return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)
    return any(fnmatch.fnmatchcase(value.lower(), pattern.lower()) for pattern in patterns)


def _condition_holds(
    condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]
) -> bool:
    for operator, keys in condition.items():
        for key, expected in keys.items():
            values = _listed(expected)
            present = key in context
            if operator == "StringEquals":
                holds = present and context[key] in values
            elif operator == "StringNotEquals":
                holds = not present or context[key] not in values
            elif operator == "StringLike":
                holds = present and _matches_any(context[key], values, case_sensitive=True)
            else:
                raise ValueError(f"operator {operator} is not evaluated here")
            if not holds:
                return False
    return True


def _applies(
    statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    if "Action" in statement:
        action_matches = _matches_any(action, _listed(statement["Action"]), case_sensitive=False)
    else:
        action_matches = not _matches_any(
            action, _listed(statement["NotAction"]), case_sensitive=False
        )
    if "Resource" in statement:
        resource_matches = _matches_any(
            resource, _listed(statement["Resource"]), case_sensitive=True
        )
    else:
        resource_matches = not _matches_any(
            resource, _listed(statement["NotResource"]), case_sensitive=True
        )
    return (
        action_matches
        and resource_matches
        and _condition_holds(statement.get("Condition", {}), context)
    )


def allows(
    document: Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, str] | None = None,
) -> bool:
    """Whether the document alone allows the request: an Allow applies and no Deny does."""
    request = context or {}
    statements = document["Statement"]
    applying = [s for s in statements if _applies(s, action, resource, request)]
    return any(s["Effect"] == "Allow" for s in applying) and not any(
        s["Effect"] == "Deny" for s in applying
    )
