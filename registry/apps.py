from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Registry"

    def ready(self):
        from registry import roles

        # Permissions exist only after migrate has run, so the groups are synced then.
        post_migrate.connect(roles.sync_groups_after_migrate, sender=self)
