"""The one place that decides which objects a user may see or act on.

Every read of user-visible objects (pages, API querysets, form choices) goes through `restrict`, so the policy lives
here and nowhere else. The policy today: signed-in users may view everything; changes need the model's Django
permission (superusers have all). The RBAC issue replaces this with team ownership and object permissions.
"""

from django.db.models import QuerySet

VIEW = "view"
CHANGE = "change"
DELETE = "delete"
ACTIONS = (VIEW, CHANGE, DELETE)


def restrict(queryset: QuerySet, *, user, action: str = VIEW) -> QuerySet:
    """Return the part of `queryset` that `user` may perform `action` on."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser or action == VIEW:
        return queryset
    opts = queryset.model._meta
    if user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
        return queryset
    return queryset.none()


def can(user, action: str, obj) -> bool:
    """True when `user` may perform `action` on the single object `obj`."""
    return restrict(type(obj)._default_manager.filter(pk=obj.pk), user=user, action=action).exists()
