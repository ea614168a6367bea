"""`manage.py catalog_import PATH_OR_URL...`: ingest files, folders or repository URLs through the normal path.

Each argument becomes (or reuses) a location and is refreshed now. One line per document: created, updated,
unchanged or error with file, line and message; then a summary. Exits 1 when any document failed.
"""

from pathlib import Path

from django.core.management import BaseCommand, CommandError

from catalog.ingestion import location_refresh
from catalog.locations import location_register
from catalog.models import Location
from catalog.services import CatalogError


def _location_for(argument: str, *, branch: str, path: str) -> Location:
    local = Path(argument)
    if "://" not in argument and not argument.startswith("git@") and local.exists():
        local = local.resolve()
        if local.is_dir():
            kind, target, file = Location.Type.PATH, str(local), ""
        else:
            kind, target, file = Location.Type.PATH, str(local.parent), local.name
    else:
        kind, target, file = Location.Type.URL, argument, path
    existing = Location.objects.filter(
        type=kind, target=target, path=file or ("catalog-info.yaml" if kind == Location.Type.URL else ""), branch=branch
    ).first()
    if existing:
        return existing
    return location_register(actor=None, type=kind, target=target, path=file, branch=branch)


class Command(BaseCommand):
    help = "Ingest catalog descriptor files, folders (every *.yaml below) or git repository URLs."

    def add_arguments(self, parser):
        parser.add_argument("sources", nargs="+", metavar="PATH_OR_URL")
        parser.add_argument("--branch", default="", help="Branch, tag or commit of repository URLs.")
        parser.add_argument("--path", default="", help="File inside repository URLs (default catalog-info.yaml).")
        parser.add_argument(
            "--confirm-empty",
            action="store_true",
            help="Mark a location's entities orphaned even when it now yields nothing.",
        )

    def handle(self, *args, sources, branch, path, confirm_empty, **options):
        totals = {"created": 0, "updated": 0, "unchanged": 0, "error": 0, "warning": 0}
        failed = False
        for source in sources:
            try:
                location = _location_for(source, branch=branch, path=path)
            except CatalogError as exc:
                messages = [
                    m for ms in (exc.errors.values() if isinstance(exc.errors, dict) else [exc.errors]) for m in ms
                ]
                self.stderr.write(f"error     {source}: {exc.message} {' '.join(messages)}".rstrip())
                failed = True
                continue
            report = location_refresh(location=location, confirm_empty=confirm_empty)
            if report.source_error:
                self.stderr.write(f"error     {source}: {report.source_error}")
                failed = True
                continue
            for result in report.results:
                line = result.describe()
                (self.stderr if result.failed else self.stdout).write(line)
                totals[result.outcome] = totals.get(result.outcome, 0) + 1
            if report.needs_confirmation:
                self.stderr.write(f"waiting   {source}: {location.message}")
            failed = failed or report.failed
        summary = ", ".join(f"{count} {outcome}" for outcome, count in totals.items())
        self.stdout.write(f"Summary: {summary}")
        if failed:
            raise CommandError("Some documents could not be ingested; see the lines above.")
