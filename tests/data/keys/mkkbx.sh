#!/usr/bin/env bash
# Build pubring.kbx, the GnuPG keybox fixture for src/keys/kbx.rs's tests.
#
# Imports the public certificates alice.asc, bob.asc, carol.asc and
# certified.asc (in that order) from this directory into a fresh GNUPGHOME
# and copies the keybox gpg wrote to pubring.kbx beside this script. The
# keybox keeps gpg's ring-trust packets, which is what the tests need.
# Re-run it after mkkeys.sh has made new keys. Requires GnuPG 2.2+.
set -euo pipefail

OUT=$(cd "$(dirname "$0")" && pwd)

GNUPGHOME=$(mktemp -d)
export GNUPGHOME
trap 'gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$GNUPGHOME"' EXIT

gpg --batch --quiet --import "$OUT/alice.asc" "$OUT/bob.asc" "$OUT/carol.asc" \
    "$OUT/certified.asc"
cp "$GNUPGHOME/pubring.kbx" "$OUT/pubring.kbx"
echo "wrote $OUT/pubring.kbx"
