"""What a SOPS file may leave in clear: exactly what sops itself leaves in clear under the
rules the file's `sops` block records (`encrypted_regex`, `unencrypted_regex`,
`encrypted_suffix`, `unencrypted_suffix`, the comment regexes), and nothing that reads like
a secret. Each case is a file sops could have written, edited by hand afterwards (or not)."""

from __future__ import annotations

import pytest
from fleet_fixtures import CHECKOUT_DB_SOPS, SECRET_FILE, shop_fleet, write_shop_root

from gop.compiler.lower.flux import FluxLoweringError, render_cluster, repository_files

PLAINTEXT = "hunter2-plaintext"
REGEX_RULE = "    encrypted_regex: ^(data|stringData)$\n"
ENC = "ENC[AES256_GCM,data:c2VjcmV0,iv:aXY=,tag:dGFn,type:str]"
assert REGEX_RULE in CHECKOUT_DB_SOPS


def _rules(rule: str, text: str = CHECKOUT_DB_SOPS) -> str:
    return text.replace(REGEX_RULE, rule)


def _with_metadata(lines: str, text: str = CHECKOUT_DB_SOPS) -> str:
    return text.replace("    namespace: shop\n", "    namespace: shop\n" + lines)


CLEAR_METADATA = "    unencrypted_regex: ^(apiVersion|kind|metadata|type)$\n"
BAD = {
    # sops encrypts everything but the unencrypted keys: a field added later is in clear
    "a nested map outside the unencrypted keys": (
        _rules(CLEAR_METADATA, CHECKOUT_DB_SOPS.replace("sops:\n", f"extra:\n    nested:\n        pin: {PLAINTEXT}\nsops:\n")),
        "extra.nested.pin is not encrypted"),
    # no key rule at all: sops encrypts every value but those with the suffix _unencrypted
    "no rules: every value is encrypted": (_rules(""), "apiVersion is not encrypted"),
    # sops' regexes are searched, not anchored: `data` matches `metadata` too
    "an unanchored regex": (_rules("    encrypted_regex: data\n"), "metadata.name is not encrypted"),
    "an encrypted suffix": (
        _rules("    encrypted_suffix: _secret\n", CHECKOUT_DB_SOPS.replace(
            "stringData:\n", f"stringData:\n    token_secret: {PLAINTEXT}\n")), "stringData.token_secret is not encrypted"),
    "a password in a clear annotation": (
        _with_metadata(f"    annotations:\n        db-password: {PLAINTEXT}\n"),
        "metadata.annotations.db-password reads like a secret"),
    "a token in a clear label value": (
        _with_metadata("    labels:\n        owner: ghp_abcdefghijklmnopqrstuvwxyz0123456789\n"),
        "metadata.labels.owner reads like a secret"),
    "a password in a comment the rules leave in clear": (
        CHECKOUT_DB_SOPS.replace("type: Opaque\n", f"type: Opaque\n# password: {PLAINTEXT}\n"),
        f"{SECRET_FILE}:7: a comment in clear text"),
    "any clear comment when sops encrypts comments": (
        _rules(CLEAR_METADATA, CHECKOUT_DB_SOPS.replace("stringData:\n", "stringData:\n    # the old one was x\n")),
        f"{SECRET_FILE}:8: a comment in clear text"),
    "a regex that is none": (_rules("    encrypted_regex: ^(data\n"), "sops.encrypted_regex is not a regular expression"),
}

GOOD = {
    "the rules Flux's guide uses": CHECKOUT_DB_SOPS,
    "everything but metadata encrypted": _rules(CLEAR_METADATA),
    "a note in a clear annotation": _with_metadata("    annotations:\n        note: rotated every month\n"),
    "a plain comment the rules leave in clear": CHECKOUT_DB_SOPS.replace("type: Opaque\n", "type: Opaque\n# rotated monthly\n"),
    "an encrypted comment": _rules(CLEAR_METADATA, CHECKOUT_DB_SOPS.replace(
        "stringData:\n", "stringData:\n    #ENC[AES256_GCM,data:bm90ZQ==,iv:aXY=,tag:dGFn,type:comment]\n")),
    "a comment the file's rules keep in clear": _rules(
        CLEAR_METADATA + "    unencrypted_comment_regex: ^public\n",
        CHECKOUT_DB_SOPS.replace("stringData:\n", "stringData:\n    # public: the key is rotated monthly\n")),
    "a value with the unencrypted suffix": _rules("    unencrypted_suffix: _unencrypted\n    unencrypted_regex: ^(apiVersion|kind|metadata|type)$\n",
                                                  CHECKOUT_DB_SOPS.replace("stringData:\n", "stringData:\n    region_unencrypted: eu\n")),
    "mac_only_encrypted changes only the MAC": CHECKOUT_DB_SOPS + "    mac_only_encrypted: true\n",
    "a # inside a block scalar is no comment": CHECKOUT_DB_SOPS.replace(
        "            -----END AGE", "            # not a comment\n            -----END AGE"),
}


def _fleet(root, text):
    write_shop_root(root)
    (root / SECRET_FILE).write_text(text, encoding="utf-8")
    return shop_fleet(root)


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_value_or_comment_sops_would_encrypt_is_an_error(tmp_path, case):
    text, message = BAD[case]
    fleet = _fleet(tmp_path, text)
    with pytest.raises(FluxLoweringError, match=_escaped(message)) as raised:
        repository_files(fleet)
    assert PLAINTEXT not in raised.value.message and "ghp_" not in raised.value.message
    with pytest.raises(FluxLoweringError):
        render_cluster(fleet, "prod-eu-1")


@pytest.mark.parametrize("case", sorted(GOOD))
def test_what_sops_leaves_in_clear_is_accepted(tmp_path, case):
    files = repository_files(_fleet(tmp_path, GOOD[case]))
    assert files[f"secrets/{SECRET_FILE.removesuffix('.yaml')}/checkout-db.enc.yaml"] == GOOD[case]


def _escaped(message: str) -> str:
    import re

    return re.escape(message)
