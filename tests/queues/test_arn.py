"""A queue ARN names the tenant's queue and nothing else: ``selectors.queue_for_arn``."""

import pytest

from lambent.errors import NotFound
from lambent.queues import selectors, services


@pytest.fixture
def jobs(tenant):
    return services.queue_create(tenant=tenant.tenant, name="jobs")


def test_the_queues_own_arn(tenant, jobs):
    assert selectors.queue_for_arn(tenant=tenant.tenant, arn=jobs.arn) == jobs


def test_another_tenants_arn_is_not_found(tenant, jobs, make_tenant):
    other = make_tenant("other").tenant
    theirs = services.queue_create(tenant=other, name="jobs")
    with pytest.raises(NotFound, match=f"Queue not found: {theirs.arn}"):
        selectors.queue_for_arn(tenant=tenant.tenant, arn=theirs.arn)
    with pytest.raises(NotFound, match="Queue not found"):
        selectors.queue_for_arn(tenant=other, arn=jobs.arn)


@pytest.mark.parametrize("arn", [
    "arn:aws:sqs:eu-west-1:{account}:jobs",
    "arn:aws-cn:sqs:us-east-1:{account}:jobs",
])
def test_another_region_or_partition_is_not_found(tenant, jobs, arn):
    arn = arn.format(account=tenant.tenant.account_id)
    with pytest.raises(NotFound, match="region us-east-1") as missing:
        selectors.queue_for_arn(tenant=tenant.tenant, arn=arn)
    assert arn in missing.value.message


@pytest.mark.parametrize("arn", [
    "",
    "jobs",
    "arn:aws:sqs:us-east-1:{account}",
    "arn:aws:sqs:us-east-1:{account}:jobs:extra",
    "arn:aws:lambda:us-east-1:{account}:jobs",
    "arn:aws:sqs:us-east-1:{account}:",
    "arn:aws:sqs:us-east-1:{account}:bad name",
    "urn:aws:sqs:us-east-1:{account}:jobs",
])
def test_a_malformed_arn_is_not_found(tenant, jobs, arn):
    arn = arn.format(account=tenant.tenant.account_id)
    with pytest.raises(NotFound, match="is not a queue ARN") as missing:
        selectors.queue_for_arn(tenant=tenant.tenant, arn=arn)
    assert arn in missing.value.message


def test_a_missing_queue_is_not_found(tenant, jobs):
    arn = jobs.arn.replace(":jobs", ":gone")
    with pytest.raises(NotFound, match=f"Queue not found: {arn}"):
        selectors.queue_for_arn(tenant=tenant.tenant, arn=arn)
