"""Argo CD: a REST client returning typed results, and instances configured from the environment."""

from integrations.argocd.client import ArgoCDClient, ArgoCDError
from integrations.argocd.config import ArgoCDInstance, argocd_instances_from_env
from integrations.argocd.results import (
    Application,
    Condition,
    ConnectionInfo,
    HistoryEntry,
    ResourceNode,
    ResourceStatus,
    ResourceTree,
)

__all__ = [
    "Application",
    "ArgoCDClient",
    "ArgoCDError",
    "ArgoCDInstance",
    "Condition",
    "ConnectionInfo",
    "HistoryEntry",
    "ResourceNode",
    "ResourceStatus",
    "ResourceTree",
    "argocd_instances_from_env",
]
