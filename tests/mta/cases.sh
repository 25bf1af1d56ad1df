#!/bin/sh
# Inside one MTA's tree (tests/mta/run): the same calls to pgpsendmail and to the MTA's
# own sendmail, one after the other, each with its own message (/t/in/CASE.p.eml and
# CASE.n.eml), recording the exit status, stdout and stderr as /t/out/CASE.{p,n}.{rc,out,err};
# tests/mta.rs compares them and opens what reached the sink. NAME.sh (sourced) sets
# NATIVE, MAILQ and NEWALIASES (empty: the MTA has none) and defines configure, start,
# stop and settle (waits until the queue holds nothing deliverable).
set -u
name=$1
PGP=/usr/local/sbin/pgpsendmail
. "/t/scripts/$name.sh"

echo "127.0.0.1 mta.example.org mta localhost" >/etc/hosts
echo mta.example.org >/etc/mailname
echo mta.example.org >/etc/hostname
# Unattended mail for root goes to ops, as an administrator sets it up.
echo "root: ops@example.org" >>/etc/aliases
mkdir -p /etc/pgpsendmail /t/bin
cp -r /t/in/keys /t/in/pgpsendmail.toml /etc/pgpsendmail/
ln -s "$PGP" /t/bin/mailq
ln -s "$PGP" /t/bin/newaliases
configure >/t/out/configure.log 2>&1 || { cat /t/out/configure.log; exit 1; }
"$PGP" check >/t/out/check.out 2>&1
echo $? >/t/out/check.rc

# one CASE PROGRAM ARG...: PROGRAM with /t/in/CASE.eml (else /dev/null) on stdin.
one() {
	out=/t/out/$1 msg=/t/in/$1.eml
	shift
	[ -e "$msg" ] || msg=/dev/null
	rc=0
	"$@" <"$msg" >"$out.out" 2>"$out.err" || rc=$?
	echo "$rc" >"$out.rc"
}
# both CASE ARG...: pgpsendmail, then the MTA's sendmail alone, with the same arguments.
both() {
	c=$1
	shift
	one "$c.p" "$PGP" "$@"
	one "$c.n" "$NATIVE" "$@"
}
# named CASE NAME PROGRAM: pgpsendmail called NAME, then the MTA's own PROGRAM, if any,
# found through PATH as a caller runs it (argv[0] the bare name: dma dispatches on it).
named() {
	one "$1.p" "/t/bin/$2"
	[ -z "$3" ] || one "$1.n" env PATH="$(dirname "$3"):/usr/bin:/bin" "$2"
}

start
both mutt -oi -oem -- alice@example.org bob@example.org carol@example.net
both cron -FCronDaemon -i -B8BITMIME -oem root
both tbcc -t -i
both dsn -N success,failure -R hdrs -V id -oi -- alice@example.org
both null -f '<>' -oi -- alice@example.org
both bp -bp
both bi -bi
both q -q
both bv -bv alice@example.org
named mailq mailq "$MAILQ"
named newaliases newaliases "$NEWALIASES"
settle
both refused -oi -- refused@example.org
settle
stop
both stopped -oi -- alice@example.org
start
settle
# The gateway in front of the MTA (pgpsendmail(8), SERVE), where NAME.sh defines
# gateway_on and gateway_off: the MTA's own sendmail, its router sending the message
# through `pgpsendmail serve`, which relays each copy back to the MTA encrypted.
if command -v gateway_on >/dev/null 2>&1; then
	gateway_on >/t/out/gateway.log 2>&1
	one gw.p "$NATIVE" -oi -- alice@example.org
	settle
	gateway_off >>/t/out/gateway.log 2>&1
fi
# The next hop down: the sink stopped.
kill "$(cat /t/sink.pid)"
both down -oi -- alice@example.org
echo done >/t/out/done
