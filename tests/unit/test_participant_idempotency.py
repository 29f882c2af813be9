"""Two requests with one Idempotency-Key at the same moment: the first to commit wins, the other is undone."""

from sqlalchemy import insert

from app.participants.idempotency import Answer, fingerprint, idempotent
from app.participants.loyalty import operations
from app.participants.loyalty.models import Award, IdempotencyRecord, db

BODY = {"account_id": "42", "miles": 300, "reference": "booking-1"}


def test_the_request_that_commits_first_wins_and_the_other_has_no_effect(loyalty_app):
    with loyalty_app.test_request_context("/awards", method="POST", json=BODY,
                                          headers={"Idempotency-Key": "booking-1-award"}):
        def create_while_the_other_request_commits() -> Answer:
            # The other request saw no record either, and commits its answer while this one runs.
            with db.engine.begin() as other:
                other.execute(insert(IdempotencyRecord).values(
                    key="booking-1-award", fingerprint=fingerprint("POST", "/awards", BODY),
                    method="POST", path="/awards", response_status=201,
                    response_body='{"id": "the-other-award"}', resource_id="the-other-award",
                ))
            award = operations.create_award("42", 300, "booking-1")
            return Answer(201, {"id": award.id}, award.id)

        response = idempotent(db, IdempotencyRecord, create_while_the_other_request_commits,
                              fingerprinted=BODY)

        assert (response.status_code, response.get_json()) == (201, {"id": "the-other-award"})
        assert response.headers["Idempotent-Replayed"] == "true"
        assert db.session.query(Award).count() == 0
