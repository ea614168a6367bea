from django.apps import AppConfig


class ScaffolderConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "scaffolder"
