#!/usr/bin/env python3
"""Independent EMV cryptograms (pyca/cryptography) for Provisio's vector tests.

Reads a JSON list of cases on standard input and writes one JSON list on standard output, one
answer per case, in order:

  in:  [{"key": "<32 hex>", "atc": 1, "amount_minor": 1250, "currency": "978",
         "country": "250", "date": "261203", "un": "0a1b2c3d"}, ...]
  out: [{"terminal": "<34 hex>", "data": "<38 hex>", "session_key": "<32 hex>",
         "arqc": "<16 hex>"}, ...]

The derivation is docs/protocol.md §16.1, written here from the contract and not from the Rust:

  D   = amount (n 12, 6 bytes BCD) || currency (n 3, 2 bytes BCD) || country (n 3, 2 bytes BCD)
        || date (YYMMDD, 3 bytes BCD) || unpredictable number (4 bytes) || ATC (2 bytes, BE)
  SK  = AES-128-ECB(key, ATC || F0 || 00 * 13)       (EMV Book 2 A1.3.1)
  AC  = AES-CMAC(SK, D)[:8]                          (RFC 4493)
"""
import json
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC


def bcd(digits):
    """Decimal digits, an even number of them, two to a byte."""
    assert len(digits) % 2 == 0 and digits.isdigit()
    return bytes.fromhex(digits)


def cryptogram(case):
    key = bytes.fromhex(case["key"])
    assert len(key) == 16
    atc = case["atc"].to_bytes(2, "big")
    terminal = (
        bcd("%012d" % case["amount_minor"])
        + bcd("0" + case["currency"])
        + bcd("0" + case["country"])
        + bcd(case["date"])
        + bytes.fromhex(case["un"])
    )
    data = terminal + atc
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    session_key = encryptor.update(atc + b"\xf0" + bytes(13)) + encryptor.finalize()
    mac = CMAC(algorithms.AES(session_key))
    mac.update(data)
    return {
        "terminal": terminal.hex(),
        "data": data.hex(),
        "session_key": session_key.hex(),
        "arqc": mac.finalize()[:8].hex(),
    }


def main():
    json.dump([cryptogram(case) for case in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
