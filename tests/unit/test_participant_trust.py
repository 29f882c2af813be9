"""Service-to-service trust: the payment and loyalty services answer only their callers, each within
its scopes (docs/security.md, "Between the services"). The table is tests/participant_endpoints.py.

Every protected endpoint is tried with no credential, a wrong secret, the other service's secret
and each production credential (web, worker, support): the ones without the scope get 403, the
others get through; a refusal is problem+json and changes nothing in the service's database.
Replaying a captured request is not tried: a bearer credential is the same on every request, so a
replay is just a request with a valid credential (what TLS and the idempotency keys are for).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import config, create_app
from app.participants.trust import InsecureSettings, parse_credentials
from tests.conftest import make_config
from tests.participant_endpoints import CARD, ENDPOINTS, Endpoint
from tests.participants import bearer, build_loyalty_app, build_payment_app, scopes_of, secret_of

PRODUCTION_CREDENTIALS = ("web", "worker", "support")
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def bare(service_app: Flask) -> FlaskClient:
    """A client that sends only the headers a test gives it: anyone who can reach the port."""
    return FlaskClient(service_app, service_app.response_class)


@dataclass
class Services:
    apps: dict[str, Flask]
    ids: dict[str, str]

    def path(self, endpoint: Endpoint) -> str:
        return endpoint.path.format(**self.ids)

    def body(self, endpoint: Endpoint) -> dict | None:
        if endpoint.body is None:
            return None
        return json.loads(json.dumps(endpoint.body).replace("{token}", self.ids["token"]))

    def call(self, endpoint: Endpoint, headers: dict[str, str]):
        api = bare(self.apps[endpoint.service])
        headers = {**headers, "Idempotency-Key": f"trust-{uuid.uuid4()}"}
        return api.open(self.path(endpoint), method=endpoint.method, json=self.body(endpoint),
                        headers=headers)

    def rows(self, service: str) -> list:
        """Every row of every table of a service: what "nothing changed" compares."""
        service_app = self.apps[service]
        db = service_app.extensions["sqlalchemy"]
        with service_app.app_context():
            return [tuple(row) for table in db.metadata.sorted_tables
                    for row in db.session.execute(select(table)).all()]


@pytest.fixture
def services(payment_app, loyalty_app) -> Services:
    """A token, an authorized payment under a known key, and a pending award, made by the booking app."""
    pay, miles = payment_app.test_client(), loyalty_app.test_client()
    token = pay.post("/tokens", json=CARD, headers={"Idempotency-Key": "t-1"}).get_json()["token"]
    payment = pay.post("/payments", json={"token": token, "amount": "10.00", "currency": "USD"},
                       headers={"Idempotency-Key": "authorize-1"}).get_json()
    award = miles.post("/awards", json={"account_id": "42", "miles": 300, "reference": "b-1"},
                       headers={"Idempotency-Key": "award-1"}).get_json()
    ids = {"token": token, "payment": payment["id"], "award": award["id"], "key": "authorize-1",
           "account": "42"}
    return Services({"payment": payment_app, "loyalty": loyalty_app}, ids)


def assert_refused(response, status: int, endpoint: Endpoint) -> None:
    assert response.status_code == status, f"{endpoint}: {response.status_code} {response.get_data()}"
    assert response.mimetype == "application/problem+json", endpoint
    body = response.get_json()
    assert body["status"] == status and body["code"] == {401: "unauthorized", 403: "forbidden"}[status]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


PROTECTED = [endpoint for endpoint in ENDPOINTS if endpoint.scope is not None]
OTHER = {"payment": "loyalty", "loyalty": "payment"}
STRANGERS = {
    "no credential": lambda endpoint: {},
    "wrong secret": lambda endpoint: bearer("not-the-secret"),
    "empty bearer": lambda endpoint: {"Authorization": "Bearer "},
    "basic": lambda endpoint: {"Authorization": "Basic d29ya2VyOnRlc3Q="},
    "the other service's secret": lambda endpoint: bearer(secret_of(OTHER[endpoint.service], "worker")),
    "a development secret": lambda endpoint: bearer(f"dev-{endpoint.service}-worker"),
}


@pytest.mark.parametrize("stranger", STRANGERS)
@pytest.mark.parametrize("endpoint", PROTECTED, ids=str)
def test_a_caller_without_a_valid_credential_gets_401_and_changes_nothing(services, endpoint, stranger):
    before = services.rows(endpoint.service)
    assert_refused(services.call(endpoint, STRANGERS[stranger](endpoint)), 401, endpoint)
    assert services.rows(endpoint.service) == before


@pytest.mark.parametrize("credential", PRODUCTION_CREDENTIALS)
@pytest.mark.parametrize("endpoint", PROTECTED, ids=str)
def test_each_credential_may_do_what_its_scopes_say_and_nothing_else(services, endpoint, credential):
    allowed = endpoint.scope in scopes_of(endpoint.service)[credential].split(",")
    before = services.rows(endpoint.service)
    response = services.call(endpoint, bearer(secret_of(endpoint.service, credential)))
    if allowed:
        assert response.status_code not in (401, 403), f"{endpoint} as {credential}: {response.get_json()}"
    else:
        assert_refused(response, 403, endpoint)
        assert services.rows(endpoint.service) == before


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.scope is None], ids=str)
def test_health_and_the_api_description_are_public(services, endpoint):
    assert services.call(endpoint, {}).status_code == 200


def test_the_scopes_are_the_least_each_process_needs():
    granted = {service: {name: set(scopes.split(",")) for name, scopes in scopes_of(service).items()}
               for service in ("payment", "loyalty")}
    assert granted["payment"]["web"] == {"tokenize", "read"}
    assert granted["loyalty"]["web"] == {"read"}
    assert granted["payment"]["worker"] == {"authorize", "capture", "void", "refund", "cancel", "read"}
    assert granted["loyalty"]["worker"] == {"award", "post", "reverse", "cancel", "read"}
    assert granted["payment"]["support"] == granted["loyalty"]["support"] == {"read"}


def test_the_table_names_every_endpoint_of_both_services(services):
    """A new endpoint fails here until it has a row saying which scope it needs."""
    for service, service_app in services.apps.items():
        adapter = service_app.url_map.bind("localhost")
        tabled = {(e.method, adapter.match(services.path(e), method=e.method)[0])
                  for e in ENDPOINTS if e.service == service}
        routed = {(method, rule.endpoint) for rule in service_app.url_map.iter_rules()
                  for method in rule.methods - SKIPPED_METHODS}
        assert routed - tabled == set(), f"{service}: endpoints without a row in participant_endpoints.py"
        assert tabled - routed == set()
        for endpoint in ENDPOINTS:
            if endpoint.service == service:
                view = service_app.view_functions[adapter.match(services.path(endpoint),
                                                                method=endpoint.method)[0]]
                assert getattr(view, "required_scope", None) == endpoint.scope, endpoint


def test_an_unknown_path_is_401_to_a_stranger_and_404_to_a_caller(payment_app):
    assert bare(payment_app).get("/admin").status_code == 401
    assert bare(payment_app).get("/admin", headers=bearer(secret_of("payment", "support"))).status_code == 404


# Rotation: a current and a previous secret per credential

def test_while_rotating_both_secrets_open_the_door_and_afterwards_only_the_new_one(tmp_path):
    rotating = build_payment_app(tmp_path, PAYMENT_CREDENTIALS=credentials("new-secret,old-secret"))
    for secret in ("new-secret", "old-secret"):
        assert bare(rotating).get("/operations/k", headers=bearer(secret)).status_code == 404
    rotated = build_payment_app(tmp_path, PAYMENT_CREDENTIALS=credentials("new-secret"))
    assert bare(rotated).get("/operations/k", headers=bearer("new-secret")).status_code == 404
    assert bare(rotated).get("/operations/k", headers=bearer("old-secret")).status_code == 401


def credentials(support_secrets: str) -> str:
    return f"worker:authorize,read:{secret_of('payment', 'worker')}; support:read:{support_secrets}"


# The settings

@pytest.mark.parametrize("setting", [
    "worker:read",  # no secret
    "worker:read:a,b,c",  # three secrets
    "worker:read:has space",
    "Worker:read:secret",
    "web:read:same; worker:read:same",  # one secret, two callers
    "web:read:one; web:read:two",
])
def test_a_malformed_credentials_setting_is_refused(setting):
    with pytest.raises(InsecureSettings):
        parse_credentials(setting, "PAYMENT_CREDENTIALS")


def test_a_scope_the_service_does_not_have_is_refused(tmp_path):
    with pytest.raises(InsecureSettings, match="capture"):
        build_loyalty_app(tmp_path, LOYALTY_CREDENTIALS="worker:award,capture:secret")


def test_secrets_never_show_in_a_credential_repr():
    [credential] = parse_credentials("worker:read:s3cret,0ld", "PAYMENT_CREDENTIALS")
    assert "s3cret" not in repr(credential) and "0ld" not in repr(credential)


@pytest.mark.parametrize("build", [build_payment_app, build_loyalty_app])
def test_a_service_in_production_refuses_the_development_credentials(tmp_path, monkeypatch, build):
    setting = "PAYMENT_CREDENTIALS" if build is build_payment_app else "LOYALTY_CREDENTIALS"
    service = setting.split("_")[0].lower()
    with pytest.raises(InsecureSettings, match=setting):
        build(tmp_path, ENV="production", **{setting: config.dev_credentials(service)})
    # One development secret left as a credential's previous one is refused as well.
    leftover = f"worker:read:own-secret,dev-{service}-worker"
    with pytest.raises(InsecureSettings, match=setting):
        build(tmp_path, ENV="production", **{setting: leftover})
    assert build(tmp_path, ENV="production", **{setting: "worker:read:own-secret"})


def test_a_booking_process_in_production_refuses_a_development_token(tmp_path):
    for token in ("PAYMENT_TOKEN", "LOYALTY_TOKEN"):
        overrides = {token: config.DEV_CREDENTIALS[token.split("_")[0].lower()]["worker"][1]}
        with pytest.raises(RuntimeError, match=token):
            create_app(make_config(tmp_path, ENV="production", SECRET_KEY="x" * 40, **overrides))


@pytest.mark.parametrize(("role", "payment", "loyalty"), [
    ("web", "dev-payment-web", "dev-loyalty-web"),
    ("worker", "dev-payment-worker", "dev-loyalty-worker"),
    ("beat", None, None),  # calls neither service
])
def test_each_process_carries_its_own_credential(monkeypatch, role, payment, loyalty):
    monkeypatch.setenv("SERVICE_ROLE", role)
    for name in ("PAYMENT_TOKEN", "LOYALTY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = config.from_env()
    assert (settings["PAYMENT_TOKEN"], settings["LOYALTY_TOKEN"]) == (payment, loyalty)
    monkeypatch.setenv("PAYMENT_TOKEN", "from-the-operator")
    assert config.from_env()["PAYMENT_TOKEN"] == "from-the-operator"


def test_the_development_credentials_let_web_and_worker_book(tmp_path):
    """The defaults scripts/run starts with: each role's token opens the doors that role uses."""
    payment = parse_credentials(config.dev_credentials("payment"), "PAYMENT_CREDENTIALS")
    loyalty = parse_credentials(config.dev_credentials("loyalty"), "LOYALTY_CREDENTIALS")
    by_secret = {secret: credential for credential in payment + loyalty for secret in credential.secrets}
    assert {"tokenize", "read"} <= by_secret["dev-payment-web"].scopes
    assert {"authorize", "capture", "cancel"} <= by_secret["dev-payment-worker"].scopes
    assert {"award", "post", "cancel"} <= by_secret["dev-loyalty-worker"].scopes
