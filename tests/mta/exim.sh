# Exim 4.96 (tests/mta/cases.sh), Debian's configuration as update-exim4.conf makes it:
# "mail sent by smarthost", the smarthost the sink. Exim delivers each message itself
# when it is submitted, with or without its daemon; the daemon runs the queue.
NATIVE=/usr/sbin/sendmail
MAILQ=/usr/bin/mailq
NEWALIASES=/usr/bin/newaliases
configure() {
	cat >/etc/exim4/update-exim4.conf.conf <<-END
		dc_eximconfig_configtype='smarthost'
		dc_other_hostnames=''
		dc_local_interfaces='127.0.0.1'
		dc_readhost=''
		dc_relay_domains=''
		dc_minimaldns='false'
		dc_relay_nets=''
		dc_smarthost='127.0.0.2'
		CFILEMODE='644'
		dc_use_split_config='false'
		dc_hide_mailname=''
		dc_mailname_in_oh='true'
		dc_localdelivery='mail_spool'
	END
	update-exim4.conf
}
start() {
	exim4 -bdf -q2s &
	daemon=$!
}
stop() {
	kill "$daemon"
	wait "$daemon"
}
settle() {
	n=0
	while [ "$(exim4 -bpc)" != 0 ] && [ $n -lt 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
}
