# nullmailer 2.2 (tests/mta/cases.sh): nullmailer-send relays the queue to the sink.
NATIVE=/usr/sbin/sendmail
MAILQ=/usr/bin/mailq
NEWALIASES=
configure() {
	echo mta.example.org >/etc/nullmailer/defaultdomain
	echo ops@example.org >/etc/nullmailer/adminaddr
	echo "127.0.0.2 smtp --port=25" >/etc/nullmailer/remotes
	chown mail:mail /etc/nullmailer/remotes
}
# As /etc/init.d/nullmailer starts it (the trigger FIFO first), but in the foreground of
# this shell, to be waited for when stopped and logged to /t/out/daemon.log.
start() {
	[ -p /var/spool/nullmailer/trigger ] || mkfifo -m 0622 /var/spool/nullmailer/trigger
	chown mail:root /var/spool/nullmailer/trigger
	setpriv --reuid=mail --regid=mail --init-groups nullmailer-send >>/t/out/daemon.log 2>&1 &
	daemon=$!
}
stop() {
	kill "$daemon"
	wait "$daemon"
}
settle() {
	n=0
	while [ -n "$(ls /var/spool/nullmailer/queue)" ] && [ $n -lt 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
}
