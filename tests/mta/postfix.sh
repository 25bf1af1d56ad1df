# Postfix 3.7 (tests/mta/cases.sh): the sink as relayhost, no DNS, no chroot for the
# daemons, root's mail through /etc/aliases. Its sendmail hands each message to postdrop,
# which writes it to the maildrop queue with or without the master daemon; pickup takes
# it from there when the daemon runs.
NATIVE=/usr/sbin/sendmail
MAILQ=/usr/bin/mailq
NEWALIASES=/usr/bin/newaliases
configure() {
	postconf -e compatibility_level=3.6 myhostname=mta.example.org mydomain=example.org \
		'myorigin=$myhostname' 'mydestination=$myhostname, localhost' \
		'relayhost=[127.0.0.2]:25' inet_interfaces=loopback-only inet_protocols=ipv4 \
		mynetworks=127.0.0.0/8 smtp_dns_support_level=disabled \
		alias_maps=hash:/etc/aliases alias_database=hash:/etc/aliases \
		maillog_file=/var/log/postfix.log
	postconf -F '*/*/chroot = n'
	newaliases
}
# start-fg can find the lock of the master just stopped still held ("already running") and
# exit at once: then it is started again, until the master runs (at most 60 s).
start() {
	n=0
	while [ $n -lt 600 ]; do
		postfix start-fg >>/t/out/daemon.log 2>&1 &
		daemon=$!
		until postfix status >/dev/null 2>&1 || ! kill -0 "$daemon" 2>/dev/null || [ $n -ge 600 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -0 "$daemon" 2>/dev/null && return 0
		wait "$daemon" || true
		sleep 0.1
		n=$((n + 1))
	done
}
stop() {
	postfix stop >>/t/out/daemon.log 2>&1
	wait "$daemon"
}
settle() {
	n=0
	while [ -n "$(postqueue -j)" ] && [ $n -lt 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
}
