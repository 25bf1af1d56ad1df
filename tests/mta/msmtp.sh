# msmtp 1.8.23 as the system's sendmail (msmtp-mta; tests/mta/cases.sh): every message
# to the sink at once, nothing queued, root's mail through /etc/aliases.
NATIVE=/usr/sbin/sendmail
MAILQ=
NEWALIASES=
configure() {
	cat >/etc/msmtprc <<-END
		defaults
		auth off
		tls off
		syslog off
		aliases /etc/aliases
		account default
		host 127.0.0.2
		port 25
		from root@mta.example.org
	END
}
start() { :; }
stop() { :; }
settle() { :; }
