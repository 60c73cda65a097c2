"""schemathesis against ``/api/v1/openapi.json``: the live app answers as its document says.

Every operation of the document is called with requests generated from the document itself
(boundary values and wrong types from the coverage phase, then hypothesis' fuzzing), through
the WSGI app, on whichever database the suite runs on. Every built-in check runs: no 5xx,
every status code and body as documented, valid data accepted, invalid data refused, 405 with
``Allow`` for undocumented methods. The run is seeded and bounded (a few dozen examples per
operation), so it is repeatable and takes seconds.

The fuzzing reads as a partner member with a bearer token (the richest visibility rule: public
records plus the organisation's partners-only ones); ``test_real_records_match_the_document``
then reads existing records, as each audience, so detail bodies with real data are checked
against the document too.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from portal.extensions import db

SEED = 20261203
MAX_EXAMPLES = {"positive": 20, "negative": 10}  # per operation


def _config_operations() -> list[dict]:
    return [
        {
            # A well-formed comment can still name a paragraph or a parent comment that
            # does not exist, quote text that is not in the paragraph, or ask for anonymity
            # the round does not allow: the document says these are 400 with a message per
            # field.
            "include-operation-id": "postReviewComment",
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "409"]
                }
            },
        }
    ]


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({"seed": SEED, "operations": _config_operations()})


@pytest.fixture
def reviewable(catalogue, factories):
    """An open review round the partner is invited to, so comment operations have data."""
    version = factories.make_review_version(["First paragraph.", "Second paragraph."])
    review_round = factories.make_review_round(version, invited=[catalogue["partner"]])
    factories.make_review_comment(review_round, catalogue["partner"], body="Please clarify.")
    db.session.commit()
    return review_round


def _load(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=_config())


def test_every_operation_answers_as_the_document_says(app, catalogue, reviewable):
    """Valid requests are accepted (2xx, or 401/403/404 for what the caller may not see),
    invalid ones refused with a documented 4xx; never a 5xx, never an undocumented body."""
    operations = [result.ok() for result in _load(app).get_all_operations()]
    assert len(operations) >= 12
    headers = catalogue["headers"]["partner"]
    seen: dict[str, set[int]] = {}
    no_negative: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES[mode.value],
                derandomize=True,  # the same requests on every run
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],  # no shrinking: report as found
            )
            def check(case):
                response = case.call_and_validate(headers=headers)
                seen.setdefault(case.operation.label, set()).add(response.status_code)

            try:
                check()
            except Unsatisfiable:
                # Nothing in this operation can be made invalid (a free-text path segment).
                assert mode is GenerationMode.NEGATIVE, operation.label
                no_negative.append(operation.label)
    # The run reached real answers, not only refusals.
    assert 200 in seen["GET /api/v1/agreements"]
    assert 400 in seen["GET /api/v1/agreements"]
    assert 404 in seen["GET /api/v1/agreements/{agreement_id}"]
    assert set(no_negative) <= {"GET /api/v1/regions/{code}", "GET /api/v1/countries/{alpha2}"}


@pytest.mark.parametrize("who", ["public", "partner", "staff"])
def test_real_records_match_the_document(app, catalogue, reviewable, who):
    loaded = _load(app)
    headers = catalogue["headers"][who]
    calls = [
        ("/api/v1/organizations", {}, {"sort": "agreements", "per_page": 2}),
        ("/api/v1/organizations/{org_id}", {"org_id": catalogue["mine"].id}, {}),
        ("/api/v1/agreements", {}, {"country": "KE"}),
        ("/api/v1/regions", {}, {"level": 3}),
        ("/api/v1/regions/{code}", {"code": "002"}, {}),
        ("/api/v1/countries", {}, {"active": "true"}),
        ("/api/v1/countries/{alpha2}", {"alpha2": "KE"}, {}),
        ("/api/v1/search", {}, {"q": "Nairobi"}),
        ("/api/v1/reviews/rounds/{round_id}", {"round_id": reviewable.id}, {}),
        ("/api/v1/reviews/rounds/{round_id}/comments", {"round_id": reviewable.id}, {}),
    ]
    for key in ("public", "ours", "theirs", "internal"):
        calls.append(("/api/v1/agreements/{agreement_id}", {"agreement_id": catalogue[key].id}, {}))
    statuses = []
    for path, path_parameters, query in calls:
        case = loaded[path]["GET"].Case(path_parameters=path_parameters, query=query)
        response = case.call_and_validate(headers=headers)
        statuses.append(response.status_code)
    expected_detail = {"public": [200, 404, 404, 404], "partner": [200, 200, 404, 404]}.get(
        who, [200, 200, 200, 200]
    )
    assert statuses[-4:] == expected_detail
    assert 500 not in statuses


def test_posting_a_comment_matches_the_document(app, catalogue, reviewable):
    loaded = _load(app)
    operation = loaded["/api/v1/reviews/rounds/{round_id}/comments"]["POST"]
    case = operation.Case(
        path_parameters={"round_id": reviewable.id},
        body={"body": "Add a paragraph on financing.", "paragraph": "1"},
        media_type="application/json",
    )
    response = case.call_and_validate(headers=catalogue["headers"]["partner"])
    assert response.status_code == 201
    assert response.json()["paragraph"]["number"] == 1


@pytest.mark.skipif(
    os.environ.get("PORTAL_API_FUZZ") != "full",
    reason="the complete schemathesis run takes minutes: PORTAL_API_FUZZ=full to run it",
)
def test_complete_schemathesis_run(app, catalogue, reviewable):
    """What ``schemathesis run`` does, through its engine: the coverage phase (boundary
    values, every enumeration value, wrong types, missing and duplicate parameters,
    unsupported methods — about 1,500 requests) and the fuzzing phase, every check on."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": catalogue["headers"]["partner"],
            "generation": {"max-examples": 20, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "operations": _config_operations(),
        }
    )
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    finished = None
    requests = 0
    for event in from_schema(loaded).execute():
        if isinstance(event, events.ScenarioFinished):
            requests += len(event.recorder.cases)
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.EngineFinished):
            finished = event
    assert finished is not None
    assert finished.failures == []
    assert requests > 1_000
