from django.core.management.base import BaseCommand

from guanxi.api.openapi import OPENAPI_PATH, render_openapi


class Command(BaseCommand):
    help = "Write the API's OpenAPI schema to docs/api/openapi.json (commit the result)."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(OPENAPI_PATH), help="Where to write the schema.")

    def handle(self, *args, **options):
        with open(options["output"], "w", encoding="utf-8") as output:
            output.write(render_openapi())
        self.stdout.write(f"Wrote {options['output']}")
