"""Generated inputs: a contact list of Polish names and phone numbers as people type them.

Deterministic (a fixed seed), cached in bench/.data by row count, so repeated runs read the
same files and the generation time is not part of any measurement.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xlsxwriter

from .common import DATA_DIR

SEED = 20261124
INVALID_SHARE = 0.02
COLUMNS = ("Imię", "Nazwisko", "Telefon", "Miasto", "Kwota")
# The bulk page's usual shape: a template naming two columns; Polish letters make it UCS-2.
TEMPLATE = "Dzień dobry {Imię}! Zapraszamy do naszego salonu w mieście {Miasto}. Do zapłaty: {Kwota} zł."

FIRST_NAMES = (
    "Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Krystyna", "Elżbieta",
    "Magdalena", "Joanna", "Zofia", "Aleksandra", "Monika", "Teresa", "Danuta", "Natalia", "Julia",
    "Karolina", "Marta", "Beata", "Dorota", "Halina", "Jadwiga", "Alicja", "Zuzanna", "Łucja", "Urszula",
    "Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Jan", "Michał", "Marcin", "Stanisław", "Jakub",
    "Adam", "Marek", "Łukasz", "Grzegorz", "Mateusz", "Wojciech", "Mariusz", "Dariusz", "Zbigniew",
    "Jerzy", "Maciej", "Rafał", "Kamil", "Robert", "Józef", "Sławomir", "Bartłomiej", "Przemysław",
)
LAST_NAMES = (
    "Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński",
    "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski", "Mazur", "Kwiatkowski", "Krawczyk",
    "Piotrowski", "Grabowski", "Nowakowski", "Pawłowski", "Michalski", "Nowicki", "Adamczyk", "Dudek",
    "Zając", "Wieczorek", "Jabłoński", "Król", "Majewski", "Olszewski", "Jaworski", "Wróbel", "Malinowski",
    "Pawlak", "Witkowski", "Walczak", "Stępień", "Górski", "Rutkowski", "Michalak", "Sikora", "Ostrowski",
    "Baran", "Duda", "Szewczyk", "Tomaszewski", "Pietrzak", "Marciniak", "Wróblewski", "Zalewski",
)
CITIES = (
    "Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk", "Szczecin", "Bydgoszcz", "Lublin",
    "Białystok", "Katowice", "Gdynia", "Częstochowa", "Radom", "Toruń", "Sosnowiec", "Kielce", "Rzeszów",
    "Gliwice", "Zabrze", "Olsztyn", "Bielsko-Biała", "Bytom", "Zielona Góra", "Rybnik", "Ruda Śląska",
    "Opole", "Tychy", "Gorzów Wielkopolski", "Elbląg", "Płock", "Wałbrzych", "Włocławek", "Tarnów",
)
# Polish mobile ranges (45x, 5xx, 6xx, 7xx, 88x).
MOBILE_PREFIXES = ("450", "500", "501", "502", "503", "505", "508", "509", "510", "512", "530", "533",
                   "535", "570", "600", "601", "602", "603", "604", "605", "660", "661", "663", "665",
                   "690", "691", "692", "693", "694", "695", "696", "697", "698", "720", "721", "722",
                   "724", "725", "726", "728", "730", "731", "732", "733", "734", "735", "736", "737",
                   "738", "739", "780", "781", "782", "783", "784", "785", "786", "787", "788", "790",
                   "791", "792", "793", "794", "795", "796", "797", "798", "799", "880", "881", "882",
                   "883", "884", "885", "886", "887", "888", "889")
# What people type instead of a number: too short, too long, letters, a landline-ish stub.
INVALID = ("12345", "600 123 45", "brak", "+48 600 123 456 789", "n/a", "0", "tel. domowy", "48 12")


def contacts(rows: int, seed: int = SEED) -> pd.DataFrame:
    """``rows`` contacts; the phone column mixes spellings, and ``INVALID_SHARE`` of it is not a number."""
    rng = np.random.default_rng(seed)
    national = (np.array(MOBILE_PREFIXES)[rng.integers(0, len(MOBILE_PREFIXES), rows)].astype(object)
                + pd.Series(rng.integers(0, 1_000_000, rows)).map("{:06d}".format).to_numpy(dtype=object))
    style = rng.integers(0, 6, rows)
    phones = np.empty(rows, dtype=object)
    for i, (number, kind) in enumerate(zip(national.tolist(), style.tolist())):
        if kind == 0:
            phones[i] = number                                             # 600123456
        elif kind == 1:
            phones[i] = f"{number[:3]} {number[3:6]} {number[6:]}"          # 600 123 456
        elif kind == 2:
            phones[i] = f"+48 {number[:3]}-{number[3:6]}-{number[6:]}"      # +48 600-123-456
        elif kind == 3:
            phones[i] = f"48{number}"                                      # 48600123456
        elif kind == 4:
            phones[i] = f"(+48) {number}"                                  # (+48) 600123456
        else:
            phones[i] = f"0048{number}"                                    # 0048600123456
    invalid = rng.random(rows) < INVALID_SHARE
    phones[invalid] = np.array(INVALID, dtype=object)[rng.integers(0, len(INVALID), int(invalid.sum()))]
    amounts = rng.integers(1000, 250_000, rows) / 100
    return pd.DataFrame({
        "Imię": np.array(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), rows)],
        "Nazwisko": np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), rows)],
        "Telefon": phones,
        "Miasto": np.array(CITIES, dtype=object)[rng.integers(0, len(CITIES), rows)],
        "Kwota": [f"{a:.2f}".replace(".", ",") for a in amounts.tolist()],
    })


def xlsx_file(rows: int) -> str:
    """The contacts as an XLSX workbook; the plain-digit phones are stored as numbers, as Excel does."""
    path = DATA_DIR / f"contacts-{rows}.xlsx"
    if path.exists():
        return str(path)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    frame = contacts(rows)
    scratch = path.with_suffix(".tmp")
    workbook = xlsxwriter.Workbook(str(scratch), {"constant_memory": True})
    sheet = workbook.add_worksheet("Kontakty")
    sheet.write_row(0, 0, COLUMNS)
    for r, row in enumerate(frame.itertuples(index=False), start=1):
        for c, value in enumerate(row):
            if c == 2 and value.isdigit() and not value.startswith("0"):
                sheet.write_number(r, c, int(value))
            else:
                sheet.write_string(r, c, value)
    workbook.close()
    scratch.rename(path)
    return str(path)


def csv_file(rows: int) -> str:
    """The contacts as Polish Excel saves CSV: ``;`` between cells, cp1250, CRLF."""
    path = DATA_DIR / f"contacts-{rows}.csv"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        contacts(rows).to_csv(scratch, sep=";", index=False, encoding="cp1250", lineterminator="\r\n")
        scratch.rename(path)
    return str(path)
