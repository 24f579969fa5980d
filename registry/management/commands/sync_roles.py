from django.core.management.base import BaseCommand

from registry import roles


class Command(BaseCommand):
    help = "Create the role groups (clinic staff, investigator, researcher) with their permissions."

    def handle(self, *args, **options):
        for name, count in roles.sync_groups().items():
            self.stdout.write(f"{name}: {count} permissions")
