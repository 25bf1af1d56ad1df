# OpenSMTPD 6.8 (tests/mta/cases.sh): Debian's smtpd.conf with the sink as relay host and
# root's mail through /etc/aliases. Its sendmail is smtpctl, which hands each message to
# smtpd, or, with smtpd stopped, to the offline queue that smtpd takes in when it starts.
NATIVE=/usr/sbin/sendmail
MAILQ=
NEWALIASES=/usr/sbin/newaliases
configure() {
	cat >/etc/smtpd.conf <<-END
		table aliases file:/etc/aliases
		listen on 127.0.0.1
		action "local" maildir alias <aliases>
		action "relay" relay host smtp://127.0.0.2:25
		match from local for local action "local"
		match from local for any action "relay"
	END
}
start() {
	smtpd -d -f /etc/smtpd.conf >>/t/out/daemon.log 2>&1 &
	daemon=$!
	n=0
	until smtpctl show status >/dev/null 2>&1 || [ $n -ge 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
}
stop() {
	kill "$daemon"
	wait "$daemon"
}
settle() {
	n=0
	while { [ -n "$(ls /var/spool/smtpd/offline)" ] || [ -n "$(smtpctl show queue)" ]; } &&
		[ $n -lt 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
}
