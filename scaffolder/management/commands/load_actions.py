from django.core.management.base import BaseCommand

from scaffolder.services import actions_sync_from_catalog, actions_sync_shipped


class Command(BaseCommand):
    help = "Load the shipped golden paths (and catalog Template entities) as actions."

    def handle(self, *args, **options):
        shipped = actions_sync_shipped()
        self.stdout.write(f"{len(shipped)} shipped actions: {', '.join(a.identifier for a in shipped)}")
        result = actions_sync_from_catalog()
        self.stdout.write(f"{len(result['synced'])} actions from catalog templates")
        for problem in result["problems"]:
            self.stderr.write(problem)
