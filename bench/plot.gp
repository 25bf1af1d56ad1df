# The plot of `make bench`, from its own data (target/bench/data.txt):
#   gnuplot -e "datafile='target/bench/data.txt'; outfile='target/bench/results.png'" bench/plot.gp
# Lines of the data file:
#   small CERTS OURS_MS GPG_MS OURS_MSG_PER_S GPG_MSG_PER_S
#   large OURS_MIBS GPG_MIBS OURS_RSS_MIB GPG_RSS_MIB
#   ceiling AES_CFB_MIBS SHA1_MIBS
#   bcc OURS_ONE_MS OURS_51_MS GPG_ONE_MS GPG_51_MS
#   lookup CERTS OURS_MS GPG_MS   (start-up + key lookup; in the table, not plotted)
set terminal pngcairo size 1500,480 font ",10"
set output outfile
set multiplot layout 1,3 title "pgpsendmail vs gpg --encrypt --armor | sendmail (same run, same keys)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set grid ytics
set key top left

set title "Small message (2 KiB, 1 recipient): wall time per message"
set ylabel "ms per message (median)"
set xlabel "certificates in the keyring"
plot "< grep '^small' ".datafile using 3:xtic(2) title "pgpsendmail" lc rgb "#2a7ab0", \
     "" using 4 title "gpg | sendmail" lc rgb "#c0504d"

set title "Large message: throughput"
set ylabel "MiB/s (wall, median)"
set xlabel ""
set boxwidth 0.6
set style data boxes
set xtics ("pgpsendmail" 0, "gpg | sendmail" 1, "openssl aes-256-cfb" 2, "openssl sha1" 3)
set yrange [0:*]
plot "< grep '^large' ".datafile using (0):2 notitle lc rgb "#2a7ab0", \
     "" using (1):3 notitle lc rgb "#c0504d", \
     "< grep '^ceiling' ".datafile using (2):2 notitle lc rgb "#7f7f7f", \
     "" using (3):3 notitle lc rgb "#b0b0b0"

set title "10 MiB message: 1 copy vs 1 To + 50 Bcc (51 copies)"
set ylabel "ms (wall, median), log scale"
set logscale y
set xtics ("pgpsendmail, 1" 0, "pgpsendmail, 51" 1, "gpg, 1" 2, "gpg, 51 runs" 3)
set yrange [*:*]
plot "< grep '^bcc' ".datafile using (0):2 notitle lc rgb "#2a7ab0", \
     "" using (1):3 notitle lc rgb "#5fa8d8", \
     "" using (2):4 notitle lc rgb "#c0504d", \
     "" using (3):5 notitle lc rgb "#e08c8a"
unset multiplot
