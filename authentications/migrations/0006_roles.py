"""The two roles of issue 5 as groups: Integrators and Key administrators.

The permission lists are frozen here on purpose: a later change to a role is a new migration.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

INTEGRATOR_PERMISSIONS = [
    ("authentications", "view_httpauthentication"),
    ("authentications", "add_httpauthentication"),
    ("authentications", "change_httpauthentication"),
    ("authentications", "retrieve_token"),
]
KEY_ADMINISTRATOR_PERMISSIONS = [
    *INTEGRATOR_PERMISSIONS,
    ("authentications", "delete_httpauthentication"),
    ("authentications", "rotate_key"),
    ("api", "view_apiclient"),
    ("api", "add_apiclient"),
    ("api", "change_apiclient"),
    ("api", "delete_apiclient"),
]
ROLES = {
    "Integrators": INTEGRATOR_PERMISSIONS,
    "Key administrators": KEY_ADMINISTRATOR_PERMISSIONS,
}


def create_roles(apps: Any, schema_editor: Any) -> None:
    # Permissions are normally made after `migrate` finishes (post_migrate): on a fresh
    # database they do not exist yet, so make them now. Safe to run again.
    for label in ("authentications", "api"):
        app_config = apps.get_app_config(label)
        historical = getattr(app_config, "models_module", None) is None
        if historical:
            app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        if historical:
            app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = [
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in wanted
        ]
        group.permissions.set(permissions)


def delete_roles(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("authentications", "0005_rotation_and_permissions"),
        ("api", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
