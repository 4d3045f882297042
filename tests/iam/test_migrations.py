"""The data migration gives every member of a tenant LambentFullAccess, so nothing that worked stops."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db(transaction=True)
def test_existing_members_get_full_access():
    executor = MigrationExecutor(connection)
    executor.migrate([("iam", "0002_groups_and_policies")])
    apps = executor.loader.project_state([("iam", "0002_groups_and_policies")]).apps
    tenant = apps.get_model("iam", "Tenant").objects.create(name="old", account_id="123456789012")
    user = apps.get_model("auth", "User").objects.create(username="old-admin")
    apps.get_model("iam", "Membership").objects.create(tenant=tenant, user=user)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    from lambent.iam.models import PolicyAttachment
    (attachment,) = PolicyAttachment.objects.filter(user_id=user.pk)
    assert (attachment.managed_name, attachment.tenant_id, attachment.group_id) == ("LambentFullAccess", tenant.pk,
                                                                                     None)
