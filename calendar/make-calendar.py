#!/usr/bin/env python3
"""Generates the DGPA-format office calendars (政府行政機關辦公日曆表) that
gwx ships, one CSV per year: `西元日期,星期,是否放假,備註`, flag 0 for a
working day and 2 for a day off.

Source: the `holidays` package on PyPI (pip install holidays==0.109), which
follows Taiwan's 紀念日及節日實施條例 and the DGPA's adjusted working days
(補行上班). The script then checks the result against facts stated in the
DGPA calendars as published (see CHECKS) and refuses to write if any
disagrees. Typhoon closures are not in any calendar: the IT bureau declares
them in the hub.

    python3 calendar/make-calendar.py 2025 2026 2027
"""

import datetime
import pathlib
import sys

import holidays

WEEKDAYS = "一二三四五六日"

# Facts from the published DGPA calendars (行政院院授人培字 letters of each
# year), as (date, working?): holidays on weekdays, make-up Saturdays, and
# ordinary days the package must not mark.
CHECKS = {
    2024: [("2024-02-08", False), ("2024-02-17", True), ("2024-04-05", False), ("2024-06-10", False)],
    2025: [
        ("2025-01-27", False),  # 調整放假 before the New Year's Eve
        ("2025-02-08", True),  # 補行上班 for it
        ("2025-04-03", False),
        ("2025-04-04", False),
        ("2025-05-01", True),  # Labour Day was not yet a civil-service holiday
        ("2025-05-30", False),
        ("2025-10-06", False),
        ("2025-10-10", False),
    ],
    2026: [
        ("2026-01-01", False),
        ("2026-02-16", False),
        ("2026-02-20", False),
        ("2026-02-27", False),
        ("2026-05-01", False),  # Labour Day, a holiday for all from 2026
        ("2026-09-28", False),  # Teachers' Day, a holiday again from 2025
        ("2026-10-26", False),
        ("2026-12-25", False),  # Constitution Day, a holiday again from 2025
        ("2026-03-02", True),
    ],
    2027: [("2027-02-09", False), ("2027-04-30", False), ("2027-12-31", False), ("2027-12-30", True)],
}


def year_rows(year):
    tw = holidays.TW(years=year, language="zh_TW")
    workdays = {d for d in tw.weekend_workdays if d.year == year}
    day = datetime.date(year, 1, 1)
    while day.year == year:
        weekend = day.weekday() >= 5
        if day in workdays:
            working, note = True, "補行上班"
        elif day in tw:
            working, note = False, tw.get(day).replace(",", "、").replace(";", "、")
        else:
            working, note = not weekend, ""
        yield day, working, note
        day += datetime.timedelta(days=1)


def main(years):
    out = pathlib.Path(__file__).resolve().parent
    for year in years:
        rows = list(year_rows(year))
        by_day = {d.isoformat(): w for d, w, _ in rows}
        wrong = [(d, w) for d, w in CHECKS.get(year, []) if by_day[d] != w]
        if wrong:
            sys.exit(f"{year}: the generated calendar disagrees with the DGPA on {wrong}")
        lines = ["西元日期,星期,是否放假,備註"]
        lines += [f"{d:%Y%m%d},{WEEKDAYS[d.weekday()]},{0 if w else 2},{n}" for d, w, n in rows]
        (out / f"{year}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        off = sum(1 for _, w, _ in rows if not w)
        print(f"{year}: {len(rows)} days, {off} days off")


if __name__ == "__main__":
    main([int(y) for y in sys.argv[1:]] or [2025, 2026, 2027])
