from decimal import Decimal

from app.models import Seat
from app.models.flight import cabin_of_row, seat_numbers


def test_every_flight_gets_162_seats_in_row_order(make_flight):
    flight = make_flight()
    numbers = [seat.number for seat in flight.seats]
    assert len(numbers) == 162
    assert numbers[:7] == ["1A", "1B", "1C", "1D", "1E", "1F", "2A"]
    assert numbers[-1] == "27F"
    assert numbers == seat_numbers()


def test_cabins_follow_the_rows(make_flight):
    flight = make_flight()
    by_cabin: dict[str, int] = {}
    for seat in flight.seats:
        by_cabin[seat.cabin] = by_cabin.get(seat.cabin, 0) + 1
    assert by_cabin == {"first": 12, "business": 18, "economy": 132}
    assert [cabin_of_row(r) for r in (1, 2, 3, 5, 6, 27)] == [
        "first", "first", "business", "business", "economy", "economy"
    ]


def test_default_fares_and_own_fares(make_flight, app):
    default = make_flight()
    assert default.fares == {"first": Decimal("1200.00"), "business": Decimal("600.00"),
                             "economy": Decimal("150.00")}
    own = make_flight(number="SA901", fares={"economy": "99.90"})
    assert own.fare("economy") == Decimal("99.90")
    assert own.fare("first") == Decimal("1200.00")
    assert Seat.query.filter_by(flight_id=own.id).count() == 162


def test_quote_prices_and_miles_by_cabin(make_flight):
    from app.catalog import quote

    flight = make_flight()
    q = quote(flight, ["1A", "4C", "12B", "12C"])
    assert q.amount == Decimal("2100.00")
    assert q.currency == "USD"
    assert q.miles == 1200 * 3 + 600 * 2 + 150 * 2


def test_quote_names_unknown_seats(make_flight):
    import pytest

    from app.catalog import quote

    with pytest.raises(KeyError) as info:
        quote(make_flight(), ["1A", "28A", "1G"])
    assert info.value.args[0] == ["28A", "1G"]
