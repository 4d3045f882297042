"""Every user already in a tenant keeps what it can do today: LambentFullAccess attached.

Before policies existed every member could do everything in its tenant; once the APIs
enforce policies, a member with nothing attached could do nothing. Reversing removes only
the user attachments of the shipped policy.
"""

from django.db import migrations

FULL_ACCESS = "LambentFullAccess"  # lambent.iam.policies.managed.FULL_ACCESS, frozen here as migrations are


def attach(apps, schema_editor):
    Membership = apps.get_model("iam", "Membership")
    PolicyAttachment = apps.get_model("iam", "PolicyAttachment")
    for membership in Membership.objects.all().iterator():
        PolicyAttachment.objects.get_or_create(tenant_id=membership.tenant_id, user_id=membership.user_id,
                                               group=None, policy=None, managed_name=FULL_ACCESS)


def detach(apps, schema_editor):
    apps.get_model("iam", "PolicyAttachment").objects.filter(managed_name=FULL_ACCESS, group=None).delete()


class Migration(migrations.Migration):
    dependencies = [("iam", "0002_groups_and_policies")]
    operations = [migrations.RunPython(attach, detach)]
