"""Kubernetes: lists of deployments, pods and events as typed results, and clusters configured from the
environment."""

from integrations.kubernetes.client import KubernetesClient, KubernetesError
from integrations.kubernetes.config import KubernetesCluster, kubernetes_clusters_from_env
from integrations.kubernetes.results import ConnectionInfo, Deployment, DeploymentCondition, Event, Pod

__all__ = [
    "ConnectionInfo",
    "Deployment",
    "DeploymentCondition",
    "Event",
    "KubernetesClient",
    "KubernetesCluster",
    "KubernetesError",
    "Pod",
    "kubernetes_clusters_from_env",
]
