"""`checkpoint keys dsc` and `checkpoint keys issue --format dcc`: the EU DCC side of the issuer tooling.

Makes a Document Signer Certificate (key and DER certificate, optionally restricted to certificate types
by its extended key usage) and issues `HC1:` codes with it, for pilots, the demo and tests; the DSC goes
into a trust list with `keys trust-list --dcc CERT.der:COUNTRY`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from keys.errors import KeyFileError, KeysError


def cmd_dsc(args: argparse.Namespace) -> int:
    from keys.dcc import generate_dsc_key, make_dsc
    from keys.dsc import dcc_kid
    from keys.keyfile import refuse_overwrite, write_private_key

    out = Path(args.out)
    key_path, cert_path = out.with_suffix(".key"), out.with_suffix(".der")
    refuse_overwrite((key_path, cert_path), args.force)
    bad = set(args.types) - set("vtr")
    if bad:
        raise KeysError(f"--types {args.types!r}: letters v (vaccination), t (test), r (recovery) only")
    if not (len(args.country) == 2 and args.country.isascii() and args.country.isalpha()):
        raise KeysError(f"--country {args.country!r}: a member state's two-letter code, e.g. DE")
    now = int(time.time())
    key = generate_dsc_key(args.kind)
    der = make_dsc(key, args.country, types=args.types, early_arc=args.early_arc, not_before=now - 86400,
                   not_after=now + args.days * 86400)
    write_private_key(key_path, key)
    cert_path.write_bytes(der)
    print(f"DSC {dcc_kid(der).hex()} ({args.country}, {args.kind}, types {args.types or 'all'}): "
          f"key {key_path} (mode 0600), certificate {cert_path}")
    return 0


def _dose(text: str) -> tuple[int, int]:
    n, _, m = text.partition("/")
    # ASCII digits only: str.isdigit() is also true of "²", which int() refuses.
    if not (n.isascii() and m.isascii() and n.isdigit() and m.isdigit()) or not 0 < int(n) <= int(m):
        raise KeysError(f"--dose {text!r}: expected N/M, e.g. 2/2")
    return int(n), int(m)


def cmd_issue_dcc(args: argparse.Namespace) -> int:
    from keys.dcc import DccCode, issue_dcc, load_dsc_key, payload_recovery, payload_test, payload_vaccination
    from keys.hcc1 import qr_png

    if not args.dsc:
        raise KeysError("--format dcc needs --dsc CERT.der (the DSC whose key is --key)")
    try:
        der = Path(args.dsc).read_bytes()
    except OSError as e:
        raise KeyFileError(f"{args.dsc}: cannot read the DSC: {e.strerror}") from None
    key = load_dsc_key(args.key)
    country = args.country
    person = {"family": args.family, "given": args.given, "family_std": args.family_std or args.family.upper(),
              "given_std": args.given_std or args.given.upper(), "dob": args.dob}
    uci = args.uci or f"URN:UVCI:01:{country}:{int(time.time())}"
    today = time.strftime("%Y-%m-%d")
    if args.type == "vaccination":
        dose, doses = _dose(args.dose)
        hcert = payload_vaccination(country, uci, dose=dose, doses=doses, date=args.date or today, **person)
    elif args.type == "test":
        sample = args.date or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        hcert = payload_test(country, uci, sample_time=sample,
                             result="260373001" if args.positive else "260415000", **person)
    else:
        hcert = payload_recovery(country, uci, valid_from=args.date or today,
                                 valid_until=args.valid_until or today, **person)
    iat = args.iat if args.iat is not None else int(time.time())
    code = DccCode(hcert=hcert, iss=args.issuer or country, iat=iat, exp=iat + args.valid_for)
    payload = issue_dcc(key, der, code)
    print(payload)
    if args.png:
        qr_png(payload, args.png)
        print(f"QR written to {args.png}", file=sys.stderr)
    return 0


def add_dcc_issue_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("EU DCC (--format dcc)")
    g.add_argument("--dsc", metavar="CERT.der", help="the DSC certificate of --key")
    g.add_argument("--type", choices=("vaccination", "test", "recovery"), default="vaccination",
                   help="the certificate's kind (default vaccination)")
    g.add_argument("--country", default="DE", help="member state of the certificate (co)")
    g.add_argument("--family", default="Mustermann", help="family name as printed")
    g.add_argument("--given", default="Erika", help="given name as printed")
    g.add_argument("--family-std", help="ICAO transliteration (default: upper case of --family)")
    g.add_argument("--given-std", help="ICAO transliteration (default: upper case of --given)")
    g.add_argument("--dob", default="1964-08-12", help="date of birth, YYYY[-MM[-DD]]")
    g.add_argument("--uci", help="unique certificate identifier (default: a fresh one)")
    g.add_argument("--dose", default="2/2", help="vaccination: dose N of M")
    g.add_argument("--date", help="vaccination date, test sample time or recovery valid-from (default: now)")
    g.add_argument("--valid-until", help="recovery: last valid day")
    g.add_argument("--positive", action="store_true", help="test: a positive result")


def register_dsc(ks: argparse._SubParsersAction) -> None:
    p = ks.add_parser("dsc", help="make an EU DCC Document Signer Certificate and its key")
    p.add_argument("out", help="path stem: writes STEM.key (PKCS#8, 0600) and STEM.der")
    p.add_argument("--country", required=True, help="member state, e.g. DE")
    p.add_argument("--kind", default="P-256", help="P-256 (default), P-384, P-521, RSA-2048, RSA-3072")
    p.add_argument("--types", default="", help="key usage: letters v, t, r it may sign (default: every type)")
    p.add_argument("--early-arc", action="store_true", help="use the erroneous early key-usage OID arc")
    p.add_argument("--days", type=int, default=730, help="days the certificate is valid (default 730)")
    p.add_argument("--force", action="store_true", help="replace existing files")
    p.set_defaults(func=cmd_dsc)
