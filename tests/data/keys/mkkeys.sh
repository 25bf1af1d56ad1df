#!/usr/bin/env bash
# Generate the OpenPGP test certificates used by pgpsendmail's tests.
#
# Re-runnable: every run makes fresh keys (new fingerprints) and overwrites
# all outputs. No secret key has a passphrase. Requires GnuPG 2.2+.
#
# Output in this directory (NAME.asc = armored public cert,
# NAME.sec.asc = armored secret key, written only where noted):
#   alice      Alice Example <alice@example.org>   RSA-3072 + RSA-3072 encr; +sec
#   bob        Bob Example <bob@example.org>        ed25519 + cv25519; +sec
#   carol      Carol Example <carol@example.net>    ed25519 + cv25519; +sec
#   dave       Dave Example <dave@example.net>      second hidden recipient; +sec
#   ops        Ops Team <ops@example.org>           target of the `root` alias; +sec
#   gateway    Example Com Gateway <gateway@example.com>
#                                                   domain key for @example.com; +sec
#   expired    Expired Key <expired@example.org>    primary+subkey expired (2 s)
#   revoked    Revoked Key <revoked@example.org>    carries a key revocation
#   revuid     Old Name <old@example.org> (revoked UID) + New Name <new@example.org>
#   expsub     Expired Subkey <expsub@example.org>  valid primary, only encr subkey expired
#   signonly   Sign Only <signonly@example.org>     no encryption subkey at all
#   certified  Certified Key <certified@example.org> certified by alice; +sec
#   upper      Upper Case <UPPER@EXAMPLE.ORG>       upper-case address; +sec
#   weak       Weak Key <weak@example.org>          RSA-1024 + RSA-1024 encr (too weak)
#   two        Two Keys <two@example.org>           TWO certs for one address, one armor
#                                                   block in two.asc; two-a/two-b.sec.asc
#   multisub   Multi Sub <multisub@example.org>     two valid cv25519 encr subkeys; +sec
#   keyring.gpg       binary (unarmored) keyring with alice, bob, carol
#   blocks.asc        alice.asc + bob.asc concatenated (two armor blocks)
#   fingerprints.txt  "NAME FINGERPRINT" for every certificate above
# The version 6 certificates (six, seven) and aead4, which GnuPG 2.2 cannot make, are made
# by OpenPGP.js: tests/js/mkkeys-v6.mjs (run it after this script: it appends to
# fingerprints.txt).
# And in ../../../examples: demo-key.asc / demo-key.sec.asc for
#   Demo Admin <admin@demo.example> (ed25519 + cv25519, never expires).
set -euo pipefail

OUT=$(cd "$(dirname "$0")" && pwd)
EXAMPLES="$OUT/../../../examples"
mkdir -p "$EXAMPLES"
EXAMPLES=$(cd "$EXAMPLES" && pwd)

GNUPGHOME=$(mktemp -d)
export GNUPGHOME
trap 'gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$GNUPGHOME"' EXIT

g() { gpg --batch --yes --quiet --pinentry-mode loopback --passphrase '' "$@"; }

# genkey UID ALGO USAGE EXPIRE -> prints the new primary key's fingerprint
genkey() {
    g --status-fd 3 --quick-gen-key "$1" "$2" "$3" "$4" 3>&1 >/dev/null 2>&1 \
        | awk '$2 == "KEY_CREATED" { print $4 }'
}
# addsub FPR ALGO USAGE EXPIRE
addsub() { g --quick-add-key "$1" "$2" "$3" "$4"; }
# ed25519 sign,cert primary + cv25519 encryption subkey, never expiring
mk25519() { local f; f=$(genkey "$1" ed25519 sign,cert never); addsub "$f" cv25519 encr never; echo "$f"; }

pub() { g --armor --export "$2" > "$OUT/$1.asc"; }
sec() { g --armor --export-secret-keys "$2" > "$OUT/$1.sec.asc"; }
FPRS=()
rec() { FPRS+=("$1 $2"); }

alice=$(genkey 'Alice Example <alice@example.org>' rsa3072 sign,cert never)
addsub "$alice" rsa3072 encr never
bob=$(mk25519 'Bob Example <bob@example.org>')
carol=$(mk25519 'Carol Example <carol@example.net>')
dave=$(mk25519 'Dave Example <dave@example.net>')
ops=$(mk25519 'Ops Team <ops@example.org>')
gateway=$(mk25519 'Example Com Gateway <gateway@example.com>')
certified=$(mk25519 'Certified Key <certified@example.org>')
upper=$(mk25519 'Upper Case <UPPER@EXAMPLE.ORG>')
for n in alice bob carol dave ops gateway certified upper; do rec "$n" "${!n}"; done

# expired: primary and subkey (future-default = ed25519 + cv25519) expire after 2 s
expired=$(genkey 'Expired Key <expired@example.org>' future-default default seconds=2)
rec expired "$expired"

# expsub: primary never expires, its only encryption subkey expires after 2 s
expsub=$(genkey 'Expired Subkey <expsub@example.org>' ed25519 sign,cert never)
addsub "$expsub" cv25519 encr seconds=2
rec expsub "$expsub"

# revoked: import the revocation certificate gpg stored at creation time
revoked=$(mk25519 'Revoked Key <revoked@example.org>')
sed 's/^:-----BEGIN/-----BEGIN/' "$GNUPGHOME/openpgp-revocs.d/$revoked.rev" | g --import
rec revoked "$revoked"

# revuid: two user IDs, the old one revoked (after the sleep below, so the
# revocation is strictly newer than the UID's self-signature)
revuid=$(mk25519 'Old Name <old@example.org>')
g --quick-add-uid "$revuid" 'New Name <new@example.org>'
rec revuid "$revuid"

signonly=$(genkey 'Sign Only <signonly@example.org>' ed25519 sign,cert never)
rec signonly "$signonly"

# weak: gpg 2.2 still generates RSA-1024 keys
weak=$(genkey 'Weak Key <weak@example.org>' rsa1024 sign,cert never)
addsub "$weak" rsa1024 encr never
rec weak "$weak"

two_a=$(mk25519 'Two Keys <two@example.org>')
two_b=$(mk25519 'Two Keys <two@example.org>')
rec two-a "$two_a"; rec two-b "$two_b"

multisub=$(genkey 'Multi Sub <multisub@example.org>' ed25519 sign,cert never)
addsub "$multisub" cv25519 encr never
addsub "$multisub" cv25519 encr never
rec multisub "$multisub"

# third-party certification of "certified" by alice
g --default-key "$alice" --quick-sign-key "$certified" 'Certified Key <certified@example.org>' >/dev/null

demo=$(mk25519 'Demo Admin <admin@demo.example>')

sleep 3   # let the 2-second expiries pass before exporting
g --quick-revoke-uid "$revuid" 'Old Name <old@example.org>'

for n in alice bob carol dave ops gateway certified upper multisub; do
    pub "$n" "${!n}"; sec "$n" "${!n}"
done
for n in expired expsub revoked revuid signonly weak; do pub "$n" "${!n}"; done
g --armor --export "$two_a" "$two_b" > "$OUT/two.asc"
sec two-a "$two_a"; sec two-b "$two_b"

g --export "$alice" "$bob" "$carol" > "$OUT/keyring.gpg"
cat "$OUT/alice.asc" "$OUT/bob.asc" > "$OUT/blocks.asc"
printf '%s\n' "${FPRS[@]}" > "$OUT/fingerprints.txt"

g --armor --export "$demo" > "$EXAMPLES/demo-key.asc"
g --armor --export-secret-keys "$demo" > "$EXAMPLES/demo-key.sec.asc"

echo "keys written to $OUT and $EXAMPLES"
