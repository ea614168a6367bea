from django.urls import path

from dashboards import views

app_name = "dashboards"
_ENTITY = "catalog/<str:kind>/<str:namespace>/<str:name>/"
urlpatterns = [
    path("services/", views.overview, name="overview"),
    path("integrations/", views.integrations, name="integrations"),
    path("integrations/<str:system>/<str:instance>/test/", views.integration_test, name="integration-test"),
    path(_ENTITY + "deployments/", views.deployments, name="deployments"),
    path(_ENTITY + "deployments/<int:pk>/sync/", views.deployment_sync, name="deployment-sync"),
    path(_ENTITY + "metrics/", views.metrics, name="metrics"),
    path(_ENTITY + "workloads/", views.workloads, name="workloads"),
    path(_ENTITY + "ci/", views.ci, name="ci"),
]
