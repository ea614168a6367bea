from django.urls import path

from dashboards import api

urlpatterns = [
    path("services/", api.ServiceListView.as_view(), name="dashboards-api-services"),
    path("entities/<path:ref>/deployments/", api.EntityDeploymentsView.as_view(), name="dashboards-api-deployments"),
    path(
        "entities/<path:ref>/deployments/<int:pk>/sync/",
        api.DeploymentSyncView.as_view(),
        name="dashboards-api-sync",
    ),
    path("entities/<path:ref>/metrics/", api.EntityMetricsView.as_view(), name="dashboards-api-metrics"),
    path("entities/<path:ref>/workloads/", api.EntityWorkloadsView.as_view(), name="dashboards-api-workloads"),
    path("entities/<path:ref>/ci/", api.EntityCIView.as_view(), name="dashboards-api-ci"),
    path("integrations/", api.IntegrationListView.as_view(), name="dashboards-api-integrations"),
    path(
        "integrations/<str:system>/<str:instance>/test/",
        api.IntegrationTestView.as_view(),
        name="dashboards-api-integration-test",
    ),
]
