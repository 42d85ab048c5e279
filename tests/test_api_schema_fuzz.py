"""Schemathesis over the whole OpenAPI schema, as the integration token and a seller user.

Bounded (a few examples per operation, no shrinking) so it runs in `make test` and CI in about a
minute. Every response must be free of server errors and true to the schema. A failing example is
printed with a curl command that reproduces it.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from settlement_ops.roles import Role
from tests.factories import ActiveContractFactory, SellerUserFactory, UserFactory

# Examples per operation and token: enough to find 500s on blank, odd and huge values, small
# enough for CI (raise locally with FUZZ_EXAMPLES=200 to dig).
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
# FUZZ_FULL=1 adds schemathesis' coverage phase (boundary values, blanks, NUL, wrong types for every
# field: about 50 more requests per operation, ~5 minutes); CI runs the bounded random phase.
PHASES = [Phase.explicit, Phase.generate] if os.environ.get("FUZZ_FULL") else [Phase.generate]

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]

pytestmark = [pytest.mark.fuzz]


@pytest.fixture
def in_test_transaction():
    """Keep the test's connection open across WSGI calls, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(db, in_test_transaction):
    """Tokens of an integration user, a seller user and a finance specialist (whose wide
    permissions get past the 403s to the validation and services), and a little data so lists
    are not empty."""
    from rest_framework.authtoken.models import Token

    ActiveContractFactory()
    users = [UserFactory(role=Role.INTEGRATION), SellerUserFactory().user, UserFactory(role=Role.FINANCE_SPECIALIST)]
    return [Token.objects.create(user=user).key for user in users]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,  # no .hypothesis/ example store in the checkout
    phases=PHASES,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_without_server_errors_and_true_to_its_schema(case, tokens):
    for key in tokens:
        case.call_and_validate(headers={"Authorization": f"Token {key}"}, checks=CHECKS)
