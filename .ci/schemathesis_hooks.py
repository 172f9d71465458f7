"""Schemathesis hooks for paybridge's specs; `.ci/schemathesis` loads them.

They touch valid cases only (a case that breaks the schema on purpose keeps what it
drew) and change in them only what a rule the schemas cannot state needs:

- An `Idempotency-Key` names one request: a client sends a fresh key with every new
  request, and the same key again only to retry that request. Drawn at random, keys
  repeat across cases with other bodies, which every dialect refuses on purpose (the
  same key with another body is the documented validation error), so each valid case
  gets a key of its own, as a client's would be.
- Rules across fields, which drawn data would break at random, are made to hold (each
  has tests of its own in tests/api); everything else about the case is still checked.
"""

import datetime
import re
import uuid

import schemathesis

# A list's two time bounds, in either order: the servers refuse an end before the start
# (StarPay `from`/`to`, ShadhinPay `from_date`/`to_date`); the end is dropped.
BOUNDS = [("from", "to"), ("from_date", "to_date")]


def plain_amount(value):
    """An amount's decimals and size depend on its currency (none for JPY, eight for
    BTC; at most 10^15 minor units), which the schemas leave to the field's
    description: drawn amounts become whole numbers from 1 to a million, valid in every
    currency."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if float(value).is_integer() and 1 <= value <= 1_000_000:
        return value
    return min(max(int(value), 1), 1_000_000)


def without_nul(value):
    """Every body is refused with a NUL character anywhere, keys included (Postgres
    cannot store one), where a schema can only rule it out of the strings it names."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def luhn_valid(number):
    """A drawn card number (12 to 19 digits, spaces and dashes between them) with its
    last digit made the Luhn check digit: card numbers must pass the Luhn check, which
    a pattern cannot say."""
    if not re.fullmatch(r"[ -]*([0-9][ -]*){12,19}", number):
        return number
    body = [int(c) for c in number if c in "0123456789"][:-1]
    total = 0
    for i, d in enumerate(reversed(body)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return "".join(map(str, body)) + str((10 - total % 10) % 10)


def future_expiry(expiry):
    """A card's expiry must be MM/YY and not in the past: another becomes 12/40."""
    match = re.fullmatch(r"(0[1-9]|1[0-2])/([0-9]{2})", expiry)
    today = datetime.date.today()
    if match and (2000 + int(match[2]), int(match[1])) >= (today.year, today.month):
        return expiry
    return "12/40"


def past_birth_date(text):
    """A birth date (YYYYMMDD) must be a real day in the past: another becomes 19800131."""
    try:
        day = datetime.datetime.strptime(text.strip(), "%Y%m%d").date()
    except ValueError:
        return "19800131" if text.strip() else text
    return text if day < datetime.date.today() else "19800131"


def hold_card_rules(card, expiry_field):
    if isinstance(card.get("number"), str):
        card["number"] = luhn_valid(card["number"])
    if isinstance(card.get(expiry_field), str):
        card[expiry_field] = future_expiry(card[expiry_field])


@schemathesis.hook
def before_call(context, case, kwargs):
    meta = case.meta
    if meta is not None and not meta.generation.mode.is_positive:
        return
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = uuid.uuid4().hex
    query = case.query or {}
    for start, end in BOUNDS:
        if start in query and end in query:
            del query[end]
    if isinstance(case.body, (dict, list, str)):
        case.body = without_nul(case.body)
    if isinstance(case.body, dict):
        if "amount" in case.body:
            case.body["amount"] = plain_amount(case.body["amount"])
        # The sandbox completes a checkout with a card or a wallet, not both.
        if "card" in case.body and "wallet" in case.body:
            del case.body["wallet"]
        if isinstance(case.body.get("card"), dict):
            hold_card_rules(case.body["card"], "expiry")
        # QR Money's card payment: the card's fields sit in the body itself.
        if "expiration" in case.body:
            hold_card_rules(case.body, "expiration")
        if isinstance(case.body.get("birthDate"), str):
            case.body["birthDate"] = past_birth_date(case.body["birthDate"])
        # StarPay pays out INR (its default currency) to an account with an IFSC code.
        if "account_number" in case.body and case.body.get("currency") in (None, "INR"):
            if not case.body.get("ifsc_code"):
                case.body["ifsc_code"] = "SBIN0001234"
