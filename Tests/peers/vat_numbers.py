"""Generates EU VAT numbers for every member state and says which python-stdnum accepts.

Prints one line per number: `COUNTRY NUMBER 1|0` (1: stdnum.eu.vat.is_valid). For each state,
random strings in each of its number formats are drawn until there are enough valid and invalid
ones; every valid number is also printed with one character changed (mostly invalid). The Swift
test checks Tollgate's validator gives the same answer for every line.
"""

import random
import string
import sys

from stdnum.ch import vat as swiss
from stdnum.eu import vat
from stdnum.gb import vat as british
from stdnum.no import mva as norwegian

D = string.digits
U = string.ascii_uppercase

# Per state (ISO country code; Greece's numbers start with EL): the formats, as lists of
# alphabets, one per character.
FORMATS = {
    "AT": [["U"] + [D] * 8],
    "BE": [["01"] + [D] * 9, [D] * 9],
    "BG": [[D] * 9, [D] * 10],
    "CY": [["0123456789"] + [D] * 7 + [U]],
    "CZ": [[D] * 8, ["6"] + [D] * 8, [D] * 9, [D] * 10],
    "DE": [[D] * 9],
    "DK": [[D] * 8],
    "EE": [[D] * 9],
    "ES": [[D + U] + [D] * 7 + [D + U], ["KLMXYZ"] + [D] * 7 + [U], [D] * 8 + [U]],
    "FI": [[D] * 8],
    "FR": [[D] * 11, ["0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"] * 2 + [D] * 9, [D] * 2 + ["0"] * 3 + [D] * 6],
    "GR": [[D] * 9, [D] * 8],
    "HR": [[D] * 11],
    "HU": [[D] * 8],
    "IE": [[D] * 7 + ["WABCDEFGHIJKLMNOPQRSTUV"], [D] * 7 + ["WABCDEFGHIJKLMNOPQRSTUV"] * 2,
           [D] + [U + "+*"] + [D] * 5 + ["WABCDEFGHIJKLMNOPQRSTUV"]],
    "IT": [[D] * 7 + ["0"] + ["01"] + [D] + [D], [D] * 11],
    "LT": [[D] * 7 + ["1"] + [D], [D] * 10 + ["1"] + [D]],
    "LU": [[D] * 8],
    "LV": [["456789"] + [D] * 10, ["32"[0]] + ["2"] + [D] * 9, ["0123"] + [D] * 10, ["0123"] + ["0123"] + [D] * 9],
    "MT": [[D] * 8],
    "NL": [[D] * 9 + ["B"] + [D] * 2],
    "PL": [[D] * 10],
    "PT": [[D] * 9],
    "RO": [[D] * n for n in range(2, 11)] + [["123456789"] + [D] * 12],
    "SE": [[D] * 10 + ["0"] + ["1"]],
    "SI": [[D] * 8],
    "SK": [[D] * 10, ["0123456789"] + [D] + ["234789"] + [D] * 7],
    # Outside the EU, each with its own module.
    "GB": [[D] * 9, [D] * 12, ["GH"] + ["DA"] + [D] * 3, ["GH"] + ["DA"] + ["8"] * 4 + [D] * 5],
    "CH": [["E"] + [D] * 9 + ["M"] + ["W"] + ["S"] + ["T"], ["E"] + [D] * 9 + ["T"] + ["V"] + ["A"]],
    "NO": [[D] * 9 + ["M"] + ["V"] + ["A"]],
}

VALID = {"GB": british.is_valid, "CH": swiss.is_valid, "NO": norwegian.is_valid}


def is_valid(country, number):
    return VALID.get(country, vat.is_valid)(number)


def prefix(country):
    return "EL" if country == "GR" else country


def draw(rng, alphabets):
    return "".join(rng.choice(alphabet) for alphabet in alphabets)


def main():
    rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 2026)
    out = []
    for country, formats in sorted(FORMATS.items()):
        for alphabets in formats:
            valid, invalid = [], []
            for _ in range(60000):
                if len(valid) >= 25 and len(invalid) >= 25:
                    break
                number = prefix(country) + draw(rng, alphabets)
                (valid if is_valid(country, number) else invalid).append(number)
            for number in valid[:25] + invalid[:25]:
                out.append((country, number))
            for number in valid[:25]:
                body = list(number[len(prefix(country)):])
                position = rng.randrange(len(body))
                body[position] = rng.choice(alphabets[position])
                out.append((country, prefix(country) + "".join(body)))
    for country, number in out:
        print(country, number, 1 if is_valid(country, number) else 0)


main()
