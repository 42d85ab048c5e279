"""Sign-in backend: Django's ModelBackend, with what every page asks of the signed-in user read
in the one query that loads the user.

Each request used to load the user, then its groups (for the roles), its own and its groups'
permissions (two queries, for the first `has_perm`) and its seller market's language: five
round trips before the page did any work. `get_user` reads them together and fills the caches
ModelBackend, `roles.user_roles` and `i18n.user_language` would otherwise fill, so the rules stay
theirs: superusers and inactive users keep ModelBackend's own handling.
"""

import functools

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType


@functools.cache
def _user_sql() -> str:
    """The user's row, its group names, its own and its groups' permissions ("app_label.codename",
    as ModelBackend names them) and its seller market's language (NULL for staff). Written out:
    the ORM took longer to compile the same statement than the database took to run it."""
    user_model = get_user_model()
    user, group, permission = user_model._meta, Group._meta, Permission._meta
    user_groups = user_model.groups.through._meta.db_table
    user_permissions = user_model.user_permissions.through._meta.db_table
    group_permissions = Group.permissions.through._meta.db_table
    content_type = ContentType._meta.db_table
    seller_user, seller = apps.get_model("sellers", "SellerUser")._meta, apps.get_model("sellers", "Seller")._meta
    market = apps.get_model("settlement_ops", "Market")._meta
    dotted = "ct.app_label || '.' || p.codename"
    return f"""
        SELECT u.*,
            ARRAY(SELECT g.name FROM {user_groups} ug JOIN {group.db_table} g ON g.id = ug.group_id
                  WHERE ug.user_id = u.{user.pk.column}) AS role_names,
            ARRAY(SELECT {dotted} FROM {user_permissions} up
                  JOIN {permission.db_table} p ON p.id = up.permission_id
                  JOIN {content_type} ct ON ct.id = p.content_type_id
                  WHERE up.user_id = u.{user.pk.column}) AS own_permissions,
            ARRAY(SELECT {dotted} FROM {user_groups} ug
                  JOIN {group_permissions} gp ON gp.group_id = ug.group_id
                  JOIN {permission.db_table} p ON p.id = gp.permission_id
                  JOIN {content_type} ct ON ct.id = p.content_type_id
                  WHERE ug.user_id = u.{user.pk.column}) AS group_permissions,
            (SELECT m.language FROM {seller_user.db_table} su
                  JOIN {seller.db_table} s ON s.id = su.seller_id
                  JOIN {market.db_table} m ON m.code = s.market_id
                  WHERE su.user_id = u.{user.pk.column}) AS seller_language
        FROM {user.db_table} u WHERE u.{user.pk.column} = %s"""


class SignedInUserBackend(ModelBackend):
    def get_user(self, user_id):
        user = next(iter(get_user_model()._default_manager.raw(_user_sql(), [user_id])), None)
        if user is None or not self.user_can_authenticate(user):
            return None
        # Loaded for one request: request-long caches may hang on it (sellers.selectors.seller_for_user).
        user.loaded_for_request = True
        user._role_cache = set(user.role_names)
        user._seller_language = user.seller_language
        if user.is_active and not user.is_superuser:
            user._user_perm_cache = set(user.own_permissions)
            user._group_perm_cache = set(user.group_permissions)
        return user
