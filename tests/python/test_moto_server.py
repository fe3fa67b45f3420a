"""hack/moto_server.py: the test environment's moto answers GetAccountAuthorizationDetails
in pages, as AWS does (MaxItems, Marker), instead of every entity at once. Runs against the
moto that `make test` started (AWS_ENDPOINT_URL)."""
import os
import uuid

import boto3
import pytest


@pytest.mark.skipif("AWS_ENDPOINT_URL" not in os.environ, reason="needs make test's moto")
def test_authorization_details_come_in_pages_that_add_up_to_every_role():
    iam = boto3.client("iam", region_name="us-east-1")
    prefix = f"page-{uuid.uuid4().hex[:8]}-"
    for i in range(5):
        iam.create_role(RoleName=f"{prefix}{i}",
                        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}')
    first = iam.get_account_authorization_details(Filter=["Role"], MaxItems=2)
    assert len(first["RoleDetailList"]) == 2
    assert first["IsTruncated"] and first["Marker"]
    names = [r["RoleName"] for r in first["RoleDetailList"]]
    marker = first["Marker"]
    while marker:
        page = iam.get_account_authorization_details(Filter=["Role"], MaxItems=2, Marker=marker)
        assert len(page["RoleDetailList"]) <= 2
        names += [r["RoleName"] for r in page["RoleDetailList"]]
        marker = page.get("Marker") if page["IsTruncated"] else None
    assert len(names) == len(set(names)), "no role twice"
    assert {f"{prefix}{i}" for i in range(5)} <= set(names), "every role, once"
