"""Integer types with bounds for every id, count and number that arrives from outside.

Python ints are unbounded, the databases' are not: an id of 2**63 used to reach SQLite (or a
PostgreSQL `integer` column) and fail there as a 500. Every route and input schema takes its
integers through these types, so such a value is a 422 at the door (a test walks the OpenAPI
document and fails on any input integer without a maximum).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

INT64_MAX = 2**63 - 1
# Plain `int` columns are 32-bit `integer` on PostgreSQL.
INT32_MAX = 2**31 - 1

# A row id (BigInteger primary keys).
Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
# A count, version, offset or other small non-negative number stored in an `integer` column.
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
# Any number stored in a BigInteger or JSON (amounts in cents, limits).
Int64 = Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX)]
