"""The people, companies and numbers the sample mail is written with: invented, South African.

Every domain is ``.example`` (or a real government domain a notice really comes from, with an
invented role address); no address is a real person's.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

FIRST = (
    "Thabo", "Naledi", "Pieter", "Ayesha", "Sipho", "Lerato", "Johan", "Priya", "Zanele",
    "Kobus", "Fatima", "Musa", "Anele", "Ruan", "Nomvula", "Craig", "Thandeka", "Sibusiso",
    "Marelize", "Yusuf", "Keabetswe", "Bongani", "Chantal", "Dineo", "Riaan", "Kagiso",
)  # fmt: skip
LAST = (
    "Nkosi", "van der Merwe", "Naidoo", "Dlamini", "Botha", "Mokoena", "Pillay", "Khumalo",
    "Pretorius", "Ndlovu", "Jacobs", "Mahlangu", "Coetzee", "Govender", "Zulu", "Maseko",
    "Smit", "Mthembu", "Adams", "Radebe", "Moodley", "Venter", "Sithole", "Steyn",
)  # fmt: skip
SUBURBS = (
    "Midrand", "Centurion", "Bryanston", "Umhlanga", "Stellenbosch", "Boksburg", "Fourways",
    "Lonehill", "Edenvale", "Durbanville", "Hatfield", "Krugersdorp", "Ballito",
    "Somerset West", "Kempton Park", "Benoni", "Randpark Ridge", "Waterkloof",
)  # fmt: skip
CLIENTS = (
    "Karoo Logistics", "Umhlanga Dental Group", "Silver Oaks Estate HOA", "Bushveld Cold Storage",
    "Kyalami Auto Body", "Protea Medical Suites", "Highveld Grain Co-op", "Ridgeview Academy",
    "Lowveld Citrus Packers", "Jacaranda Guest Lodge", "Marula Office Park", "Fynbos Wine Estates",
)  # fmt: skip
DEVELOPERS = (
    "Rand Property Developers", "Summit Ridge Estates", "Vaal Logistics Park",
    "Cradle Retail Holdings", "Greenstone Schools Trust",
)  # fmt: skip
ADVERTISERS = (
    "Zola Beverages", "Tshwane Motor Group", "Kasi Bites", "Ubuntu Mobile Money",
    "Sunfield Insurance", "Mzansi Streaming",
)  # fmt: skip
LAW_FIRMS = (
    ("Mokoena Pillay Inc.", "mokoenapillay.example"),
    ("Van Wyk & Partners Attorneys", "vanwykattorneys.example"),
    ("Naidoo Coetzee Attorneys", "ncattorneys.example"),
)
SITES = ("N1-JHB-014", "R21-EKU-003", "M1-JHB-027", "N3-DBN-009", "N2-CPT-021", "R24-JHB-006")
PRECINCTS = ("Kyalami Ridge", "Olifantsfontein", "Glen Austin", "Halfway Gardens", "Noordwyk")
MONTHS = ("October", "November", "December")


def slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def rand(rng: random.Random, low: int, high: int, cents: bool = True) -> str:
    """A rand amount as South Africans write it: ``R48 750.00`` or ``R 48,750``."""
    value = rng.randrange(low, high)
    if rng.random() < 0.5:
        text = f"{value:,}".replace(",", " ")
        return f"R{text}.{rng.randrange(100):02d}" if cents else f"R{text}"
    return f"R {value:,}.00" if cents else f"R {value:,}"


def values(rng: random.Random, day: date) -> dict[str, str]:
    """One message's slot values: a fresh draw of people, companies, amounts and dates."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    first2, last2 = rng.choice(FIRST), rng.choice(LAST)
    client, developer, advertiser = (
        rng.choice(CLIENTS),
        rng.choice(DEVELOPERS),
        rng.choice(ADVERTISERS),
    )
    firm, firm_domain = rng.choice(LAW_FIRMS)
    due = day + timedelta(days=rng.choice((2, 3, 5, 7, 10, 14)))
    return {
        "first": first,
        "last": last,
        "first_l": slug(first),
        "last_l": slug(last),
        "first2": first2,
        "last2": last2,
        "client": client,
        "client_d": slug(client) + ".example",
        "developer": developer,
        "developer_d": slug(developer) + ".example",
        "advertiser": advertiser,
        "advertiser_d": slug(advertiser) + ".example",
        "firm": firm,
        "firm_d": firm_domain,
        "suburb": rng.choice(SUBURBS),
        "suburb2": rng.choice(SUBURBS),
        "site": rng.choice(SITES),
        "precinct": rng.choice(PRECINCTS),
        "amount": rand(rng, 1_200, 95_000),
        "small": rand(rng, 180, 4_500),
        "big": rand(rng, 250_000, 4_800_000, cents=False),
        "inv": f"{rng.choice(('INV', 'IN', 'TI'))}-{rng.randrange(10_000, 99_999)}",
        "ref": f"{rng.choice('ABCDEFGHKLMNPRSTVW')}{rng.randrange(100_000, 999_999)}",
        "case": f"{rng.randrange(2025, 2027)}/{rng.randrange(1_000, 99_999):05d}",
        "ticket": f"VF-{rng.randrange(10_000, 99_999)}",
        "po": f"PO-{rng.randrange(2_000, 9_999)}",
        "erf": f"Erf {rng.randrange(100, 9_999)}",
        "due": due.strftime("%A %d %B").replace(" 0", " "),
        "day": day.strftime("%A"),
        "month": rng.choice(MONTHS),
        "days": str(rng.choice((5, 7, 10, 14, 21))),
        "hours": str(rng.randrange(2, 30)),
        "pct": str(rng.choice((4, 6, 7.5, 8, 9, 12, 15))),
        "count": str(rng.randrange(3, 180)),
        "homes": str(rng.randrange(40, 900)),
        "km": str(rng.randrange(2, 38)),
        "ip": f"{rng.choice((41, 102, 105, 154, 196, 197))}.{rng.randrange(256)}."
        f"{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "city": rng.choice(("Lagos", "Bucharest", "Sao Paulo", "Hanoi", "Minsk", "Jakarta")),
        "n": str(rng.randrange(2, 9)),
    }
