#!/bin/sh
# Seeds fuzz/corpus/TARGET/ from the test corpus (tests/data/hostile, tests/data/keys,
# examples/). Re-runnable; files the fuzzer added to the corpus stay.
set -eu
cd "$(dirname "$0")"
T=../tests/data
mkdir -p corpus/args corpus/header corpus/address corpus/keyring corpus/keybox
# args: arguments separated by NUL bytes.
printf -- '-i\0-t\0-f\0me@example.org\0--\0alice@example.org' > corpus/args/basic
printf -- '-oi\0-FCronDaemon\0-B8BITMIME\0-oem\0root' > corpus/args/cron
printf -- '-N\0success,delay\0-R\0hdrs\0-V\0envid\0-bm\0a@b' > corpus/args/dsn
printf -- '-odi\0-oem\0-bs' > corpus/args/bs
printf -- '-C\0/etc/mail.cf\0-Ax\0-h\00017\0-L\0tag\0-qR\0x' > corpus/args/misc
# header: whole messages; the first byte's low bit chooses -i.
for f in ../examples/cron-mail.eml "$T"/hostile/*.eml; do
    [ -f "$f" ] && cp "$f" "corpus/header/$(basename "$f")"
done
# address: the To/Cc/Bcc values of the message corpus, and a few by hand.
for f in ../examples/cron-mail.eml "$T"/hostile/*.eml; do
    [ -f "$f" ] || continue
    grep -ai '^\(to\|cc\|bcc\|resent-to\):' "$f" | head -3 | sed 's/^[^:]*://' \
        > "corpus/address/$(basename "$f")" || true
done
printf 'A Group: "q\\"x" <a@b.example> (c (nested)), b@[127.0.0.1];, undisclosed-recipients:;' \
    > corpus/address/group
printf '=?utf-8?q?J=C3=B6rg?= <jorg@example.org>, root, "a@b"@example.org' > corpus/address/words
# keyring and keybox: the test certificates.
for f in "$T"/keys/*.asc "$T"/keys/keyring.gpg "$T"/hostile/keys/*; do
    [ -f "$f" ] && cp "$f" "corpus/keyring/$(basename "$f")"
done
cp "$T"/keys/pubring.kbx corpus/keybox/pubring.kbx
cp "$T"/keys/pubring.kbx corpus/keyring/pubring.kbx
# smtp (the -bs face, src/sendmail/smtp.rs) and smtp_server (src/smtp/): sessions like those of tests/integration/modes.rs.
mkdir -p corpus/smtp
printf 'EHLO c.example\r\nMAIL FROM:<me@example.org> BODY=8BITMIME\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nFrom: me@example.org\r\nTo: alice@example.org\r\nSubject: s\r\n\r\nfirst\r\n..stuffed\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<nokey@example.org>\r\nDATA\r\nSubject: two\r\n\r\nx\r\n.\r\nQUIT\r\n' \
    > corpus/smtp/two-messages
printf 'HELO x\nMAIL FROM:<a@x>\nRCPT TO:<@r:b@x>\nRCPT TO:<c@x> NOTIFY=NEVER\nDATA\nTo: b@x\nBcc: c@x\n\nhi\n.\nRSET\nVRFY b\nNOOP\nHELP\nSTARTTLS\nQUIT\n' \
    > corpus/smtp/lf-and-errors
printf 'EHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nSubject: cut\r\n\r\nhalf' \
    > corpus/smtp/cut-in-data
printf 'EHLO c\r\nMAIL FROM:< a@x (me)> SIZE=10 SMTPUTF8\r\nRCPT TO:<"b o b"@x>\r\nRCPT TO:<jos\303\251@x>\r\nDATA\r\none\n.\nMAIL FROM:<e@x>\r\n.\r\nQUIT\r\n' \
    > corpus/smtp/paths-and-smuggling
mkdir -p corpus/smtp_server
cp corpus/smtp/* corpus/smtp_server/
echo "seeded: $(ls corpus/*/ | wc -l) files"
