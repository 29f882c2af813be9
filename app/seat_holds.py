"""Seat holds in Redis: one key per held seat, its value the hold's token, with a PX TTL.

Redis is the fast path; SQL is the guarantee (see app/holds.py and docs/holds.md). Every key of a
flight carries the flight in a hash tag, so each script touches one Redis Cluster slot. Scripts
get every key they touch in KEYS and never build key names themselves.

These functions raise redis-py's own errors; app/holds.py turns them into HoldStoreUnavailable.
"""

from __future__ import annotations

import weakref

import redis
from redis.commands.core import Script

HOLD_KEY = "hold:{{{flight_id}}}:{seat}"  # -> "hold:{42}:12A"

# KEYS:    the hold keys of the seats asked for (all of one flight)
# ARGV[1]: the hold's token
# ARGV[2]: the TTL in milliseconds
# Returns: the 1-based positions in KEYS of the keys another token holds. Only when that list is
#          empty has anything been written: then every key is SET to the token with the TTL
#          (a key that already held the token gets its TTL refreshed).
ACQUIRE_LUA = """
local taken = {}
for i, key in ipairs(KEYS) do
    local owner = redis.call('GET', key)
    if owner and owner ~= ARGV[1] then
        taken[#taken + 1] = i
    end
end
if #taken == 0 then
    for _, key in ipairs(KEYS) do
        redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    end
end
return taken
"""

# KEYS:    the hold keys to release
# ARGV[1]: the hold's token
# Returns: how many keys were deleted; a key holding another token (or none) is left alone.
RELEASE_LUA = """
local deleted = 0
for _, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        deleted = deleted + redis.call('DEL', key)
    end
end
return deleted
"""

# KEYS:    the hold keys to extend
# ARGV[1]: the hold's token
# ARGV[2]: the new TTL in milliseconds
# Returns: the 1-based positions in KEYS of the keys that are not the token's (missing or another
#          token's); the others get the new TTL.
EXTEND_LUA = """
local lost = {}
for i, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        redis.call('PEXPIRE', key, ARGV[2])
    else
        lost[#lost + 1] = i
    end
end
return lost
"""

_SOURCES = {"acquire": ACQUIRE_LUA, "release": RELEASE_LUA, "extend": EXTEND_LUA}
# A Script hashes its source with its client's encoder, so scripts are registered once per client.
_scripts: weakref.WeakKeyDictionary[redis.Redis, dict[str, Script]] = weakref.WeakKeyDictionary()


def hold_key(flight_id: int, seat: str) -> str:
    return HOLD_KEY.format(flight_id=flight_id, seat=seat)


def acquire(r: redis.Redis, flight_id: int, seats: list[str], token: str, ttl_ms: int) -> list[str]:
    """Hold every seat for `token`, or none; returns the seats another token holds."""
    ttl_ms = _positive_ms(ttl_ms)
    if not seats:
        return []
    positions = _script(r, "acquire")(keys=_keys(flight_id, seats), args=[token, ttl_ms])
    return _seats_at(seats, positions)


def release(r: redis.Redis, flight_id: int, seats: list[str], token: str) -> int:
    """Delete the keys that still hold `token`; returns how many were deleted."""
    if not seats:
        return 0
    return int(_script(r, "release")(keys=_keys(flight_id, seats), args=[token]))


def extend(r: redis.Redis, flight_id: int, seats: list[str], token: str, ttl_ms: int) -> list[str]:
    """Give `token`'s keys a new TTL; returns the seats that are not `token`'s any more."""
    ttl_ms = _positive_ms(ttl_ms)
    if not seats:
        return []
    positions = _script(r, "extend")(keys=_keys(flight_id, seats), args=[token, ttl_ms])
    return _seats_at(seats, positions)


def fence(r: redis.Redis, flight_id: int, seats: list[str], token: str) -> list[str]:
    """The seats whose key holds another token; a missing key passes (SQL is the guarantee)."""
    if not seats:
        return []
    # One MGET is atomic, and all the keys share the flight's slot.
    values = r.mget(_keys(flight_id, seats))
    return [seat for seat, value in zip(seats, values, strict=True)
            if value is not None and _text(value) != token]


def _keys(flight_id: int, seats: list[str]) -> list[str]:
    return [hold_key(flight_id, seat) for seat in seats]


def _seats_at(seats: list[str], positions: list[int]) -> list[str]:
    return [seats[int(position) - 1] for position in positions]


def _positive_ms(ttl_ms: int) -> int:
    # PX 0 is an error in Redis and a negative PEXPIRE deletes the key: refuse both here.
    if int(ttl_ms) <= 0:
        raise ValueError(f"a hold TTL must be positive, not {ttl_ms} ms")
    return int(ttl_ms)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _script(r: redis.Redis, name: str) -> Script:
    scripts = _scripts.get(r)
    if scripts is None:
        scripts = {key: r.register_script(source) for key, source in _SOURCES.items()}
        _scripts[r] = scripts
    return scripts[name]
