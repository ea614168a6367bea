"""`manage.py load_demo`: load the demo organisation into an empty catalog (does nothing when entities exist)."""

from django.core.management import BaseCommand

from portal import demo


class Command(BaseCommand):
    help = "Load the demo catalog when the database has no catalog entities yet."

    def handle(self, *args, **options):
        message = demo.load_if_empty()
        self.stdout.write(message)
