"""Tax numbers and bank details per market, checked with python-stdnum and schwifty.

Each function returns the normalised value or raises DomainError naming the field.
"""

from __future__ import annotations

import re

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.gb import vat as gb_vat
from stdnum.id import npwp
from stdnum.vn import mst

from settlement_ops.errors import DomainError

# Markets whose vendors are paid by IBAN (SEPA); GB takes an IBAN or sort code + account number.
IBAN_MARKETS = {"DE", "FR"}
SEPA_COUNTRIES = {"AT", "BE", "DE", "ES", "FI", "FR", "IE", "IT", "LU", "NL", "PT"}
TAX_NUMBER_LABEL = {
    "GB": "UK VAT number",
    "DE": "EU VAT number",
    "FR": "EU VAT number",
    "ID": "NPWP",
    "VN": "MST (tax code)",
}


def validate_vat_number(*, market_code: str, value: str) -> str:
    """GB: UK VAT (GB + 9/12 digits); DE/FR: EU VAT with the market's country prefix; ID: NPWP
    (15 or 16 digits); VN: MST (10 digits, or 13 with branch). Empty is allowed (not registered)."""
    value = (value or "").strip()
    if not value:
        return ""
    label = TAX_NUMBER_LABEL.get(market_code, "Tax number")
    try:
        if market_code == "GB":
            return "GB" + gb_vat.validate(value)
        if market_code in ("DE", "FR"):
            compact = eu_vat.validate(value)
            if not compact.startswith(market_code):
                raise DomainError(
                    f"{label} {value!r} must start with {market_code} for a vendor in {market_code}.",
                    code="invalid_vat_number",
                    field="vat_number",
                )
            return compact
        if market_code == "ID":
            return npwp.format(npwp.validate(value))
        if market_code == "VN":
            return mst.validate(value)
    except StdnumError as exc:
        raise DomainError(
            f"{label} {value!r} is not valid: {exc.message}", code="invalid_vat_number", field="vat_number"
        ) from None
    return value


def validate_bank_details(
    *, market_code: str, iban: str = "", bic: str = "", account_number: str = "", bank_code: str = ""
) -> dict:
    """Check bank details for the vendor's market; returns the normalised fields.

    DE/FR: IBAN required (schwifty checks country format and check digits); BIC optional but
    valid, and its country must match the IBAN's. GB: IBAN, or sort code (6 digits) + account
    number (8 digits). ID: bank code (3 digits) + account number of 10-16 digits. VN: bank code
    (BIC or short code) + account number of 6-19 digits.
    """
    iban, bic = (iban or "").replace(" ", "").upper(), (bic or "").replace(" ", "").upper()
    account_number = re.sub(r"[\s-]", "", account_number or "")
    bank_code = re.sub(r"[\s-]", "", bank_code or "")
    result = {"iban": "", "bic": "", "account_number": "", "bank_code": ""}
    if iban:
        try:
            parsed = IBAN(iban)
        except SchwiftyException as exc:
            raise DomainError(f"IBAN {iban!r} is not valid: {exc}", code="invalid_iban", field="iban") from None
        if market_code == "GB" and parsed.country_code != "GB":
            raise DomainError("A UK vendor's IBAN must be a GB IBAN.", code="invalid_iban", field="iban")
        if market_code in IBAN_MARKETS and parsed.country_code not in SEPA_COUNTRIES:
            raise DomainError(
                f"IBAN country {parsed.country_code} is not a SEPA country.", code="invalid_iban", field="iban"
            )
        if market_code not in IBAN_MARKETS and market_code != "GB":
            raise DomainError(
                f"Vendors in {market_code} are paid to a local account, not an IBAN.", code="invalid_iban", field="iban"
            )
        result["iban"] = parsed.compact
    elif market_code in IBAN_MARKETS:
        raise DomainError("An IBAN is required for vendors in this market.", code="iban_required", field="iban")
    if bic:
        try:
            parsed_bic = BIC(bic)
        except SchwiftyException as exc:
            raise DomainError(f"BIC {bic!r} is not valid: {exc}", code="invalid_bic", field="bic") from None
        if result["iban"] and parsed_bic.country_code != result["iban"][:2]:
            raise DomainError(
                f"BIC country {parsed_bic.country_code} does not match the IBAN country {result['iban'][:2]}.",
                code="invalid_bic",
                field="bic",
            )
        result["bic"] = parsed_bic.compact
    if result["iban"]:
        return result
    if market_code == "GB":
        if not re.fullmatch(r"\d{6}", bank_code):
            raise DomainError(
                "Sort code must be 6 digits (or give an IBAN).", code="invalid_sort_code", field="bank_code"
            )
        if not re.fullmatch(r"\d{8}", account_number):
            raise DomainError(
                "UK account number must be 8 digits.", code="invalid_account_number", field="account_number"
            )
    elif market_code == "ID":
        if not re.fullmatch(r"\d{3}", bank_code):
            raise DomainError(
                "Indonesian bank code must be 3 digits (e.g. 014 for BCA).", code="invalid_bank_code", field="bank_code"
            )
        if not re.fullmatch(r"\d{10,16}", account_number):
            raise DomainError(
                "Indonesian account number must be 10 to 16 digits.",
                code="invalid_account_number",
                field="account_number",
            )
    elif market_code == "VN":
        if not re.fullmatch(r"[A-Z0-9]{3,11}", bank_code.upper()):
            raise DomainError(
                "Vietnamese bank code must be the bank's BIC or short code.",
                code="invalid_bank_code",
                field="bank_code",
            )
        if not re.fullmatch(r"\d{6,19}", account_number):
            raise DomainError(
                "Vietnamese account number must be 6 to 19 digits.",
                code="invalid_account_number",
                field="account_number",
            )
        bank_code = bank_code.upper()
    else:
        raise DomainError("An IBAN is required.", code="iban_required", field="iban")
    result.update(account_number=account_number, bank_code=bank_code)
    return result


# The EPC's SEPA basic Latin character set (EPC217-08), which every SEPA bank accepts in names.
SEPA_NAME = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]+")
# Other markets' bank files (CSV): letters of any script with their accents, digits, and the
# punctuation company names use. Nothing else, so no control, quote or formula characters.
LOCAL_NAME = re.compile(r"[^\W_][\w\s.,'&()/+\-]*", re.UNICODE)
HOLDER_MAX_LENGTH = 70  # pain.001 Nm and most bank CSV formats


def validate_account_holder(*, market_code: str, value: str) -> str:
    """The account holder name in the characters the market's bank file allows.

    SEPA markets (DE, FR): the SEPA basic Latin set (no umlauts or accents, no '&'). Elsewhere:
    letters, digits, spaces and . , ' & ( ) / + -. Either way it starts with a letter or digit (so
    a spreadsheet never reads it as a formula) and has at most 70 characters.
    """
    value = " ".join((value or "").split())
    if not value:
        raise DomainError("Account holder is required.", code="required", field="account_holder")
    if len(value) > HOLDER_MAX_LENGTH:
        raise DomainError(
            f"Account holder is longer than {HOLDER_MAX_LENGTH} characters.",
            code="invalid_account_holder",
            field="account_holder",
        )
    if not value[0].isalnum():
        raise DomainError(
            "Account holder must start with a letter or digit.", code="invalid_account_holder", field="account_holder"
        )
    if market_code in IBAN_MARKETS:
        bad = sorted({char for char in value if not SEPA_NAME.fullmatch(char)})
        if bad:
            raise DomainError(
                f"SEPA transfers allow only unaccented Latin letters, digits, spaces and / - ? : ( ) . , ' + in "
                f"the account holder; write {' '.join(repr(c) for c in bad)} the way the bank does "
                "(e.g. ü as ue, & as 'and').",
                code="invalid_account_holder",
                field="account_holder",
            )
    elif not LOCAL_NAME.fullmatch(value):
        raise DomainError(
            "Account holder may hold letters, digits, spaces and . , ' & ( ) / + - only.",
            code="invalid_account_holder",
            field="account_holder",
        )
    return value
