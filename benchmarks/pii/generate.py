"""Generate the labelled PII evaluation set (``dataset.jsonl``) offline, from a fixed seed.

Run ``python benchmarks/pii/generate.py`` to rebuild it byte for byte. Every
sample is ``{"id", "kind", "text", "spans": [{"start", "end", "type"}]}`` with
Python string offsets. Values are synthetic: card numbers pass Luhn for their
issuer, SSNs are in issuable ranges, IBANs carry valid check digits, phone
numbers are checked with ``phonenumbers``; keys and tokens are random strings in
each provider's published shape. Kinds:

* ``chat`` - support messages and e-mails with structured identifiers;
* ``call`` - contact-centre transcripts: speaker turns, spoken and spaced digits,
  fillers inside numbers, e-mails spelled out;
* ``dev`` - secrets pasted by developers (env files, curl, JSON, PEM keys);
* ``varied`` - formats and phrasings added after the detector was written, to keep
  the set from only containing what it was tuned for (odd phone punctuation,
  upper-case e-mails, two-digit years, IPs in URLs, ISBNs, emergency numbers);
* ``prose`` - ordinary assistant-style paragraphs with no personal data, the bulk
  of real traffic (used for precision and for a prose-only throughput figure);
* ``negative`` - look-alikes that are not personal data (order numbers, versions,
  failed checksums, dates that are not birth dates, hashes);
* ``spelled_dob`` - dates of birth said or written in words, as agents and callers say
  them ("the fourth of July nineteen eighty-two", "twelve oh three eighty-five", digit
  by digit), and dates in words that are not birth dates (added last, so the earlier
  samples are unchanged).
"""

from __future__ import annotations

import base64
import json
import random
import string
import sys
from collections.abc import Callable
from pathlib import Path

import phonenumbers

SEED = 20261126
OUT = Path(__file__).with_name("dataset.jsonl")
COUNTS = {"chat": 900, "call": 700, "dev": 420, "negative": 400, "varied": 360, "prose": 300, "spelled_dob": 240}

FIRST = ["James", "Maria", "Wei", "Aisha", "Olga", "Carlos", "Priya", "Tom", "Fatima", "Liam", "Yuki", "Noah",
         "Sofia", "Ahmed", "Emma", "Lucas", "Chloe", "Ivan", "Zara", "Mateo"]
LAST = ["Smith", "Garcia", "Chen", "Khan", "Petrova", "Silva", "Patel", "Brown", "Haddad", "Murphy", "Tanaka",
        "Miller", "Rossi", "Nasser", "Wilson", "Dubois", "Martin", "Novak", "Ali", "Lopez"]
DOMAINS = ["gmail.com", "outlook.com", "example.com", "acme-corp.io", "mail.co.uk", "uni.edu", "proton.me",
           "company.de", "yahoo.fr", "startup.ai"]
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
FILLERS = ["um", "uh", "er"]
AREAS = ["212", "415", "646", "312", "617", "206", "303", "512", "713", "305", "404", "202", "503", "702"]

Piece = str | tuple[str, str]  # literal text, or (value, entity type)


class Sample:
    def __init__(self) -> None:
        self.text = ""
        self.spans: list[dict[str, object]] = []

    def add(self, *pieces: Piece) -> Sample:
        for piece in pieces:
            if isinstance(piece, tuple):
                value, kind = piece
                self.spans.append({"start": len(self.text), "end": len(self.text) + len(value), "type": kind})
                self.text += value
            else:
                self.text += piece
        return self


# --- values -----------------------------------------------------------------------------------


def luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        digits = body + check
        total = sum(
            (d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2))
            for i, d in enumerate(int(c) for c in reversed(digits))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def card_digits(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15),
                                 ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("36", 14)])
    return luhn_complete(rng, prefix, length)


def group(digits: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        out.append(digits[i : i + size])
        i += size
    if i < len(digits):
        out.append(digits[i:])
    return sep.join(out)


def card_text(rng: random.Random, digits: str) -> str:
    sizes = [4, 6, 5] if len(digits) == 15 else [4, 4, 4, 4]
    style = rng.choice(["plain", "space", "dash", "space"])
    return digits if style == "plain" else group(digits, sizes, " " if style == "space" else "-")


def ssn_digits(rng: random.Random) -> str:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    return f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"


def us_phone_digits(rng: random.Random) -> str:
    while True:
        digits = rng.choice(AREAS) + str(rng.randint(2, 9)) + f"{rng.randint(0, 99):02d}" + f"{rng.randint(0, 9999):04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(digits, "US")):
            return digits


def us_phone_text(rng: random.Random) -> str:
    d = us_phone_digits(rng)
    return rng.choice([
        f"({d[:3]}) {d[3:6]}-{d[6:]}", f"{d[:3]}-{d[3:6]}-{d[6:]}", f"{d[:3]}.{d[3:6]}.{d[6:]}",
        f"+1 {d[:3]} {d[3:6]} {d[6:]}", f"+1-{d[:3]}-{d[3:6]}-{d[6:]}", f"+1 ({d[:3]}) {d[3:6]}-{d[6:]}",
        f"{d[:3]} {d[3:6]} {d[6:]}",
    ])


def intl_phone_text(rng: random.Random) -> str:
    while True:
        text = rng.choice([
            f"+44 20 7946 {rng.randint(0, 999):04d}", f"+44 7700 900{rng.randint(0, 999):03d}",
            f"+49 30 {rng.randint(1000000, 9999999)}", f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
            f"+91 98{rng.randint(100, 999)} {rng.randint(10000, 99999)}", f"+61 2 {rng.randint(8000, 9999)} {rng.randint(1000, 9999)}",
            f"020 7946 {rng.randint(0, 999):04d}", f"07700 900{rng.randint(0, 999):03d}",
        ])
        region = None if text.startswith("+") else "GB"
        if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
            return text


def iban(rng: random.Random) -> str:
    country, bban_len = rng.choice([("GB", 18), ("DE", 18), ("FR", 23), ("NL", 14), ("ES", 20), ("IT", 23)])
    if country == "GB":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + "".join(rng.choice(string.digits) for _ in range(14))
    elif country == "NL":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + "".join(rng.choice(string.digits) for _ in range(10))
    elif country == "IT":
        bban = rng.choice(string.ascii_uppercase) + "".join(rng.choice(string.digits) for _ in range(22))
    else:
        bban = "".join(rng.choice(string.digits) for _ in range(bban_len))
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    compact = f"{country}{check:02d}{bban}"
    return compact if rng.random() < 0.4 else " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def ipv4(rng: random.Random) -> str:
    return ".".join(str(x) for x in (rng.choice([23, 52, 81, 104, 145, 172, 192, 198, 203, 10]), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)))


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    if rng.random() < 0.5:
        return "2001:db8::" + ":".join(groups[5:])
    return ":".join(groups)


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower()
    local = rng.choice([f"{first}.{last}", f"{first}{last[0]}", f"{first}_{last}{rng.randint(1, 99)}", f"{first[0]}{last}"])
    return f"{local}@{rng.choice(DOMAINS)}"


def dob(rng: random.Random) -> str:
    y, m, d = rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28)
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December"]
    return rng.choice([f"{m:02d}/{d:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{months[m - 1]} {d}, {y}",
                       f"{d} {months[m - 1]} {y}", f"{d:02d}.{m:02d}.{y}", f"{months[m - 1][:3]} {d} {y}"])


def rand(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def secret(rng: random.Random) -> str:
    kind = rng.randrange(10)
    if kind == 0:
        return "sk-proj-" + rand(rng, 48, string.ascii_letters + string.digits + "_-")
    if kind == 1:
        return "sk-ant-api03-" + rand(rng, 93, string.ascii_letters + string.digits + "_-") + "AA"
    if kind == 2:
        return "AKIA" + rand(rng, 16, string.ascii_uppercase + string.digits)
    if kind == 3:
        return rng.choice(["ghp_", "gho_", "ghs_"]) + rand(rng, 36)
    if kind == 4:
        return rng.choice(["xoxb-", "xoxp-"]) + f"{rng.randint(10**10, 10**11)}-{rng.randint(10**10, 10**11)}-" + rand(rng, 24)
    if kind == 5:
        return rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + rand(rng, 24)
    if kind == 6:
        return "AIza" + rand(rng, 35, string.ascii_letters + string.digits + "_-")
    if kind == 7:
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps({"sub": str(rng.randint(1, 10**9)), "iat": rng.randint(1_600_000_000, 1_800_000_000)}).encode())
        return f"{header}.{payload}.{b64url(rng.randbytes(32))}"
    if kind == 8:
        body = base64.b64encode(rng.randbytes(rng.randint(90, 180))).decode()
        lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        label = rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
        return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----"
    return rand(rng, rng.randint(20, 40), string.ascii_letters + string.digits + "/+")


def keyword_secret(rng: random.Random) -> str:
    return rand(rng, rng.randint(16, 32), string.ascii_letters + string.digits + "!#$%&*-_")


# --- spoken forms -----------------------------------------------------------------------------


def spoken(rng: random.Random, digits: str, sizes: list[int]) -> str:
    parts, i = [], 0
    for size in sizes:
        chunk = digits[i : i + size]
        i += size
        if not chunk:
            break
        parts.append(" ".join(WORDS[int(c)] if not (c == "0" and rng.random() < 0.3) else "oh" for c in chunk))
    if i < len(digits):
        parts.append(" ".join(WORDS[int(c)] for c in digits[i:]))
    out = parts[0]
    for part in parts[1:]:
        out += rng.choice([", ", " ", ", ", f", {rng.choice(FILLERS)}, ", " - "]) + part
    return out


def spaced(rng: random.Random, digits: str, sizes: list[int]) -> str:
    chunks, i = [], 0
    for size in sizes:
        chunks.append(" ".join(digits[i : i + size]))
        i += size
    return rng.choice([" - ", "  ", " "]).join(chunks)


def spelled_email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower()
    domain = rng.choice(["gmail", "outlook", "yahoo", "hotmail", "icloud"])
    return f"{first} {rng.choice(['dot', 'underscore'])} {last} at {domain} dot com"


# --- sample kinds -----------------------------------------------------------------------------


def chat(rng: random.Random) -> Sample:
    s = Sample()
    choice = rng.randrange(12)
    if choice == 0:
        return s.add(f"Hi, this is {rng.choice(FIRST)}. You can email me at ", (email(rng), "EMAIL_ADDRESS"), " or call ", (us_phone_text(rng), "PHONE_NUMBER"), ".")
    if choice == 1:
        return s.add("Please charge my card ", (card_text(rng, card_digits(rng)), "CREDIT_CARD"), f", expiry {rng.randint(1, 12):02d}/{rng.randint(26, 31)}.")
    if choice == 2:
        return s.add("My SSN is ", (group(ssn_digits(rng), [3, 2, 4], "-"), "US_SSN"), " and my date of birth is ", (dob(rng), "DATE_OF_BIRTH"), ".")
    if choice == 3:
        return s.add("Wire the refund to IBAN ", (iban(rng), "IBAN_CODE"), " please, reference ", str(rng.randint(10000, 99999)), ".")
    if choice == 4:
        return s.add("Our office number is ", (intl_phone_text(rng), "PHONE_NUMBER"), "; my colleague is on ", (email(rng), "EMAIL_ADDRESS"), ".")
    if choice == 5:
        return s.add("Login failed from ", (ipv4(rng), "IP_ADDRESS"), " at ", f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}", " and again from ", (ipv6(rng), "IP_ADDRESS"), ".")
    if choice == 6:
        return s.add(f"Summarise this: customer {rng.choice(FIRST)} {rng.choice(LAST)}, born ", (dob(rng), "DATE_OF_BIRTH"), ", phone ", (us_phone_text(rng), "PHONE_NUMBER"), ", card ending in ", str(rng.randint(1000, 9999)), ".")
    if choice == 7:
        return s.add("social security number: ", (group(ssn_digits(rng), [3, 2, 4], rng.choice([" ", "-"])), "US_SSN"), "\nemail: ", (email(rng), "EMAIL_ADDRESS"))
    if choice == 8:
        return s.add("Can you update my billing? New card: ", (card_text(rng, card_digits(rng)), "CREDIT_CARD"), ". Thanks, ", rng.choice(FIRST))
    if choice == 9:
        return s.add("Reach me on ", (intl_phone_text(rng), "PHONE_NUMBER"), " after 6pm, or mail ", (email(rng), "EMAIL_ADDRESS"))
    if choice == 10:
        return s.add("The server ", (ipv4(rng), "IP_ADDRESS"), " keeps timing out for user ", (email(rng), "EMAIL_ADDRESS"), ".")
    return s.add("DOB ", (dob(rng), "DATE_OF_BIRTH"), ", SSN ", (ssn_digits(rng), "US_SSN"), ", IBAN ", (iban(rng), "IBAN_CODE"))


def call(rng: random.Random) -> Sample:
    s = Sample()
    agent, customer = rng.choice([("Agent", "Customer"), ("AGENT", "CALLER"), ("Rep", "Customer")])
    s.add(f"{agent}: Thank you for calling, how can I help?\n{customer}: Hi, I need to update my details.\n")
    choice = rng.randrange(7)
    if choice == 0:
        digits = card_digits(rng)
        sizes = [4, 6, 5] if len(digits) == 15 else [4, 4, 4, 4]
        form = spoken(rng, digits, sizes) if rng.random() < 0.6 else spaced(rng, digits, sizes)
        s.add(f"{agent}: Sure, can I have the card number?\n{customer}: Yes, it's ", (form, "CREDIT_CARD"), ".\n")
    elif choice == 1:
        digits = us_phone_digits(rng)
        form = spoken(rng, digits, [3, 3, 4]) if rng.random() < 0.6 else spaced(rng, digits, [3, 3, 4])
        s.add(f"{agent}: What's the best number to reach you?\n{customer}: ", (form, "PHONE_NUMBER"), "\n")
    elif choice == 2:
        digits = ssn_digits(rng)
        form = spoken(rng, digits, [3, 2, 4]) if rng.random() < 0.6 else group(digits, [3, 2, 4], " ")
        s.add(f"{agent}: For verification, your social security number?\n{customer}: It's ", (form, "US_SSN"), ".\n")
    elif choice == 3:
        s.add(f"{agent}: And your email address?\n{customer}: ", (spelled_email(rng), "EMAIL_ADDRESS"), "\n")
    elif choice == 4:
        s.add(f"{agent}: Can you confirm your date of birth?\n{customer}: Sure, ", (dob(rng), "DATE_OF_BIRTH"), ".\n")
    elif choice == 5:
        digits = card_digits(rng)
        sizes = [4, 6, 5] if len(digits) == 15 else [4, 4, 4, 4]
        s.add(f"{customer}: my card is ", (group(digits, sizes, f", {rng.choice(FILLERS)}, "), "CREDIT_CARD"), f"\n{agent}: Thank you.\n")
    else:
        s.add(f"{customer}: You can text me on ", (us_phone_text(rng), "PHONE_NUMBER"), " or email ", (email(rng), "EMAIL_ADDRESS"), "\n")
    return s.add(f"{agent}: Perfect, you're all set. Anything else?\n{customer}: No, that's all, thanks.")


def dev(rng: random.Random) -> Sample:
    s = Sample()
    choice = rng.randrange(6)
    if choice == 0:
        return s.add("Why does this fail?\n```\nexport OPENAI_API_KEY=", (secret(rng), "SECRET"), "\npython app.py\n```")
    if choice == 1:
        return s.add("curl -H 'Authorization: Bearer ", (secret(rng), "SECRET"), "' https://api.example.com/v1/items")
    if choice == 2:
        return s.add('{"service": "billing", "api_key": "', (secret(rng), "SECRET"), '", "timeout": 30}')
    if choice == 3:
        return s.add("DB_HOST=", (ipv4(rng), "IP_ADDRESS"), "\nDB_PASSWORD=", (keyword_secret(rng), "SECRET"), "\nDB_PORT=5432")
    if choice == 4:
        return s.add("here is the key file, can you tell me the format?\n", (secret(rng), "SECRET"), "\nthanks")
    return s.add("my token is ", (secret(rng), "SECRET"), " and the admin contact is ", (email(rng), "EMAIL_ADDRESS"))


def negative(rng: random.Random) -> Sample:
    s = Sample()
    bad_card = card_digits(rng)
    bad_card = bad_card[:-1] + str((int(bad_card[-1]) + 1) % 10)
    choice = rng.randrange(10)
    texts: list[Callable[[], str]] = [
        lambda: f"Your order number is {rng.randint(10**9, 10**10 - 1)} and it ships on {rng.randint(1, 28)} March.",
        lambda: f"Upgrade to version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 99)} before Friday.",
        lambda: f"That card number {bad_card} was declined (checksum).",
        lambda: f"The meeting is on {rng.randint(2024, 2027)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} at 10:30.",
        lambda: f"Commit {rand(rng, 40, '0123456789abcdef')} fixed the flaky test.",
        lambda: f"Tracking ID {rng.randint(10**11, 10**12 - 1)}, invoice total ${rng.randint(10, 999)}.{rng.randint(0, 99):02d}.",
        lambda: f"Request {rand(rng, 8, '0123456789abcdef')}-{rand(rng, 4, '0123456789abcdef')}-{rand(rng, 4, '0123456789abcdef')}-{rand(rng, 4, '0123456789abcdef')}-{rand(rng, 12, '0123456789abcdef')} timed out after 30 s.",
        lambda: f"The invalid SSN 000-{rng.randint(10, 99)}-{rng.randint(1000, 9999)} was rejected.",
        lambda: f"We sold {rng.randint(1000, 9999)} units in {rng.randint(2019, 2025)} across {rng.randint(10, 99)} stores.",
        lambda: f"Ticket {rng.randint(100000, 999999)} escalated; SLA {rng.randint(2, 48)}h, priority {rng.randint(1, 4)}.",
    ]
    return s.add(texts[choice]())


def varied(rng: random.Random) -> Sample:
    s = Sample()
    d = us_phone_digits(rng)
    choice = rng.randrange(16)
    if choice == 0:
        return s.add("ring me: ", (rng.choice([f"{d[:3]} {d[3:6]}{d[6:]}", f"+1.{d[:3]}.{d[3:6]}.{d[6:]}", f"1-{d[:3]}-{d[3:6]}-{d[6:]}", f"({d[:3]}){d[3:6]}-{d[6:]}"]), "PHONE_NUMBER"), " any time")
    if choice == 1:
        return s.add("Contact: ", (email(rng).upper() if rng.random() < 0.5 else email(rng).title(), "EMAIL_ADDRESS"))
    if choice == 2:
        y, m, dd = rng.randint(40, 99), rng.randint(1, 12), rng.randint(1, 28)
        return s.add("I'm a Pisces, born ", (f"{m}/{dd}/{y}", "DATE_OF_BIRTH"), ".")
    if choice == 3:
        return s.add("see http://", (ipv4(rng), "IP_ADDRESS"), f":{rng.randint(1024, 65535)}/admin for the dashboard")
    if choice == 4:
        return s.add(f"ISBN 978-{rng.randint(0, 9)}-{rng.randint(10, 99)}-{rng.randint(100000, 999999)}-{rng.randint(0, 9)} is out of print; call 911 if urgent.")
    if choice == 5:
        return s.add("SSN#", (group(ssn_digits(rng), [3, 2, 4], "-"), "US_SSN"), " on file")
    if choice == 6:
        digits = card_digits(rng)
        return s.add("cc no. ", (digits, "CREDIT_CARD"), f" cvv {rng.randint(100, 999)}")
    if choice == 7:
        return s.add("Customer: my number is ", (spoken(rng, d, [3, 3, 4]).replace(", ", "... "), "PHONE_NUMBER"), "\nAgent: got it")
    if choice == 8:
        return s.add(f"Room {rng.randint(100, 999)}, floor {rng.randint(1, 30)}, badge {rng.randint(10000, 99999)}.")
    if choice == 9:
        return s.add("birthday: ", (dob(rng), "DATE_OF_BIRTH"), "; anniversary: ", f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2000, 2020)}")
    if choice == 10:
        return s.add("ipv6 route via ", (f"fe80::{rng.randint(0, 0xffff):x}:{rng.randint(0, 0xffff):x}", "IP_ADDRESS"), " is down")
    if choice == 11:
        return s.add("set GITHUB_TOKEN to ", ("ghp_" + rand(rng, 36), "SECRET"), " and AWS key ", ("AKIA" + rand(rng, 16, string.ascii_uppercase + string.digits), "SECRET"))
    if choice == 12:
        return s.add("Payment from IBAN ", (iban(rng).lower() if rng.random() < 0.2 else iban(rng), "IBAN_CODE"), " received")
    if choice == 13:
        return s.add("Customer: it's ", (spoken(rng, card_digits(rng), [4, 4, 4, 4]).replace(", ", " ... "), "CREDIT_CARD"), "\nAgent: thanks")
    if choice == 14:
        return s.add(f"Pi is 3.14159, e is 2.71828 and the answer is {rng.randint(10, 99)}; build {rng.randint(1000, 9999)} passed.")
    return s.add("postgres://app:", (keyword_secret(rng), "SECRET"), "@db.internal:5432/app is the connection string")


SUBJECTS = ["The report", "Our team", "This function", "The model", "A customer", "The new policy",
            "Each request", "The dashboard", "The migration", "Your summary"]
VERBS = ["explains", "improves", "describes", "reduces", "tracks", "compares", "summarises", "validates",
         "highlights", "records"]
OBJECTS = ["the quarterly results", "response latency", "the onboarding flow", "error rates in production",
           "how retries are scheduled", "the main risks", "what changed since last week", "the test coverage",
           "the cost of each step", "the open questions"]
TAILS = ["in plain language.", "for the next review.", "without extra configuration.", "across all regions.",
         "in about 3 minutes.", "before the release on Friday.", "with two examples.", "step by step.",
         "for version 2 of the API.", "so that nobody has to guess."]


def prose(rng: random.Random) -> Sample:
    sentences = [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}"
                 for _ in range(rng.randint(4, 9))]
    return Sample().add(" ".join(sentences))


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
UNITS = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINALS = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
            "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
            "eighteenth", "nineteenth", "twentieth"]


def number_words(rng: random.Random, n: int) -> str:
    """1-99 in words, with a hyphen or a space between tens and units."""
    if n < 10:
        return UNITS[n]
    if n < 20:
        return TEENS[n - 10]
    tens, unit = divmod(n, 10)
    return TENS[tens] + (rng.choice(["-", " "]) + UNITS[unit] if unit else "")


def ordinal_words(rng: random.Random, n: int) -> str:
    if n <= 20:
        return ORDINALS[n]
    if n == 30:
        return "thirtieth"
    tens, unit = divmod(n, 10)
    return TENS[tens] + rng.choice(["-", " "]) + ORDINALS[unit]


def year_words(rng: random.Random, year: int) -> str:
    if year >= 2000:
        rest = year - 2000
        if not rest:
            return "two thousand"
        return rng.choice([f"two thousand {number_words(rng, rest)}", f"two thousand and {number_words(rng, rest)}",
                           f"twenty {'oh ' + UNITS[rest] if rest < 10 else number_words(rng, rest)}"])
    rest = year - 1900
    return "nineteen " + ("oh " + UNITS[rest] if rest < 10 else number_words(rng, rest))


def spelled_date(rng: random.Random) -> str:
    y, m, d = rng.randint(1940, 2009), rng.randint(1, 12), rng.randint(1, 28)
    short_year = number_words(rng, y % 100) if y % 100 >= 20 else year_words(rng, y)
    day_words = "oh " + UNITS[d] if d < 10 else number_words(rng, d)
    forms = [
        lambda: f"{ordinal_words(rng, d)} of {MONTHS[m - 1]} {year_words(rng, y)}",
        lambda: f"{MONTHS[m - 1]} {ordinal_words(rng, d)}, {y}",
        lambda: f"{MONTHS[m - 1]} the {ordinal_words(rng, d)}, {year_words(rng, y)}",
        lambda: f"{number_words(rng, m)} {day_words} {short_year}",
        lambda: f"{ordinal_words(rng, d)} of {MONTHS[m - 1][:3]}. {y}",
        lambda: " ".join(WORDS[int(c)] if c != "0" or rng.random() < 0.5 else "oh" for c in f"{m:02d}{d:02d}{y}"),
    ]
    return rng.choice(forms)()


def spelled_dob(rng: random.Random) -> Sample:
    s = Sample()
    agent, customer = rng.choice([("Agent", "Customer"), ("Rep", "Caller")])
    choice = rng.randrange(8)
    if choice == 0:
        return s.add(f"{agent}: Can you confirm your date of birth?\n{customer}: Sure, it's ", (spelled_date(rng), "DATE_OF_BIRTH"), ".")
    if choice == 1:
        return s.add("I was born on ", (spelled_date(rng), "DATE_OF_BIRTH"), " in a small town.")
    if choice == 2:
        return s.add(f"{agent}: And the D.O.B.?\n{customer}: D.O.B. ", (spelled_date(rng), "DATE_OF_BIRTH"), f"\n{agent}: Thank you.")
    if choice == 3:
        return s.add("my date of birth is ", (spelled_date(rng), "DATE_OF_BIRTH"), ", and my name is ", rng.choice(FIRST), ".")
    if choice == 4:
        return s.add(f"{customer}: my birthday, um, it's ", (spelled_date(rng), "DATE_OF_BIRTH"), f"\n{agent}: got it")
    if choice == 5:  # a date in words that is not a birth date
        return s.add(f"{agent}: Your policy renews on the {spelled_date(rng)}, is that right?\n{customer}: Yes.")
    if choice == 6:
        return s.add(f"The invoice from {spelled_date(rng)} is still open; delivery was on the {spelled_date(rng)}.")
    return s.add(f"{customer}: we moved in on {spelled_date(rng)}\n{agent}: Noted.")


def main() -> None:
    rng = random.Random(SEED)
    makers = {"chat": chat, "call": call, "dev": dev, "negative": negative, "varied": varied, "prose": prose,
              "spelled_dob": spelled_dob}
    rows = []
    for kind, count in COUNTS.items():
        for _ in range(count):
            sample = makers[kind](rng)
            rows.append({"id": len(rows), "kind": kind, "text": sample.text, "spans": sample.spans})
    with OUT.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {len(rows)} samples to {OUT}\n")


if __name__ == "__main__":
    main()
