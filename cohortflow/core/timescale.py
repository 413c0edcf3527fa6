"""The time scale every phase shares: days per (Julian) year and per month.

A month is a twelfth of a year, 30.4375 days, as the survival tables and figures print it.
"""

from __future__ import annotations

#: Days per year (Julian year, leap days included).
DAYS_PER_YEAR = 365.25
#: Days per month (a twelfth of ``DAYS_PER_YEAR``).
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
