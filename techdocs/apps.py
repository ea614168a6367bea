from django.apps import AppConfig


class TechdocsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "techdocs"
