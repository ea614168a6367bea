from django.urls import path

from scaffolder import api

app_name = "scaffolder-api"
urlpatterns = [
    path("actions/", api.ActionList.as_view(), name="actions"),
    path("actions/<slug:identifier>/", api.ActionDetail.as_view(), name="action"),
    path("actions/<slug:identifier>/runs/", api.ActionRunCreate.as_view(), name="action-runs"),
    path("runs/", api.RunList.as_view(), name="runs"),
    path("runs/<int:pk>/", api.RunDetail.as_view(), name="run"),
    path("runs/<int:pk>/cancel/", api.RunCommand.as_view(command="cancel"), name="run-cancel"),
    path("runs/<int:pk>/retry/", api.RunCommand.as_view(command="retry"), name="run-retry"),
    path("runs/<int:pk>/approve/", api.RunCommand.as_view(command="approve"), name="run-approve"),
]
