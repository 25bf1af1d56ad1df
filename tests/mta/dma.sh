# dma 0.13 (tests/mta/cases.sh): every message to the sink as smarthost. dma has no daemon:
# each submission delivers at once, and `dma -q` (cron, in Debian) retries the queue.
NATIVE=/usr/sbin/sendmail
MAILQ=/usr/bin/mailq
NEWALIASES=/usr/bin/newaliases
configure() {
	cat >/etc/dma/dma.conf <<-END
		SMARTHOST 127.0.0.2
		PORT 25
		ALIASES /etc/aliases
		SPOOLDIR /var/spool/dma
		MAILNAME /etc/mailname
	END
}
start() { :; }
stop() { :; }
settle() {
	n=0
	# A queued message is a Q file (and its M file); `flush` is dma -q's own.
	while ls /var/spool/dma | grep -q '^Q' && [ $n -lt 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
}
