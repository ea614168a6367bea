from django.urls import path

from scaffolder import views

app_name = "scaffolder"
urlpatterns = [
    path("create/", views.create_index, name="create"),
    path("create/<slug:identifier>/", views.action_form, name="action"),
    path("create/<slug:identifier>/validate/", views.action_validate, name="action-validate"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run-cancel"),
    path("runs/<int:pk>/retry/", views.run_retry, name="run-retry"),
    path("runs/<int:pk>/approve/", views.run_approve, name="run-approve"),
    path("catalog/<str:kind>/<str:namespace>/<str:name>/runs/", views.entity_runs, name="entity-runs"),
]
