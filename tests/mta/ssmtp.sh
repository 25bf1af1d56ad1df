# ssmtp 2.64 (tests/mta/cases.sh): every message to the sink at once, nothing queued;
# mail for root (and the other system users) to ops, ssmtp's own setting.
NATIVE=/usr/sbin/sendmail
MAILQ=/usr/sbin/mailq
NEWALIASES=/usr/sbin/newaliases
configure() {
	cat >/etc/ssmtp/ssmtp.conf <<-END
		root=ops@example.org
		mailhub=127.0.0.2:25
		hostname=mta.example.org
		FromLineOverride=YES
	END
}
start() { :; }
stop() { :; }
settle() { :; }
