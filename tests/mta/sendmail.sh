# Sendmail 8.17 (tests/mta/cases.sh): Debian's sendmail.mc with the sink as SMART_HOST and
# no DNS (hosts from /etc/hosts). Its sendmail is the submission program (MSP), which
# hands each message to the MTA daemon on 127.0.0.1:25, or, with the daemon stopped,
# keeps it in the client queue for its own queue runner.
NATIVE=/usr/sbin/sendmail
MAILQ=/usr/bin/mailq
NEWALIASES=/usr/sbin/newaliases
configure() {
	sed -i "/^MAILER_DEFINITIONS/i define(\`SMART_HOST', \`[127.0.0.2]')dnl\nFEATURE(\`nocanonify')dnl" \
		/etc/mail/sendmail.mc
	printf 'hosts files\naliases files\n' >/etc/mail/service.switch
	make -C /etc/mail
	newaliases
}
start() {
	sendmail-mta -bD -q2s -L sm-mta >>/t/out/daemon.log 2>&1 &
	daemon=$!
	sendmail-msp -Ac -qp2s -L sm-msp-queue >>/t/out/daemon.log 2>&1 &
	runner=$!
	n=0
	until bash -c 'exec 3<>/dev/tcp/127.0.0.1/25' 2>/dev/null || [ $n -ge 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
}
stop() {
	kill "$daemon" "$runner"
	wait "$daemon" "$runner"
}
settle() {
	n=0
	while ls /var/spool/mqueue /var/spool/mqueue-client | grep -q '^qf' && [ $n -lt 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
}
