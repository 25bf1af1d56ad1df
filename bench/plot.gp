# The plot of `make bench`, from its own data (target/bench/data.txt):
#   gnuplot -e "datafile='target/bench/data.txt'; outfile='target/bench/results.png'" bench/plot.gp
# Lines of the data file (NaN for a peer that was skipped):
#   small CERTS OURS_MS GPG_MS SQ_MS RNP_MS OURS_MSG_PER_S GPG_MSG_PER_S SQ_MSG_PER_S RNP_MSG_PER_S
#   large OURS_MIBS OURS_RSS_MIB GPG_MIBS SQ_MIBS RNP_MIBS GPG_RSS_MIB SQ_RSS_MIB RNP_RSS_MIB
#   ceiling AES_CFB_MIBS SHA1_MIBS
#   bcc OURS_ONE_MS OURS_51_MS GPG_ONE_MS SQ_ONE_MS RNP_ONE_MS GPG_51_MS SQ_51_MS RNP_51_MS
#   lookup CERTS OURS_MS GPG_MS SQ_MS RNP_MS   (start-up + key lookup; in the table, not plotted)
set terminal pngcairo size 1600,500 font ",10"
set output outfile
set multiplot layout 1,3 title "pgpsendmail vs gpg, sq and rnp, each piped into sendmail (same run, same keys, AES-256, no compression)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set grid ytics
set key top left

set title "Small message (2 KiB, 1 recipient): wall time per message"
set ylabel "ms per message (median), log scale"
set logscale y
set xlabel "certificates in the keyring"
plot "< grep '^small' ".datafile using 3:xtic(2) title "pgpsendmail" lc rgb "#2a7ab0", \
     "" using 4 title "gpg" lc rgb "#c0504d", \
     "" using 5 title "sq" lc rgb "#9bbb59", \
     "" using 6 title "rnp" lc rgb "#8064a2"

set title "Large message (3 recipients): throughput"
set ylabel "MiB/s (wall, median)"
unset logscale y
set xlabel ""
set boxwidth 0.6
set style data boxes
set xtics ("pgpsendmail" 0, "gpg" 1, "sq" 2, "rnp" 3, "openssl aes-256-cfb" 4, "openssl sha1" 5) rotate by -20
set yrange [0:*]
plot "< grep '^large' ".datafile using (0):2 notitle lc rgb "#2a7ab0", \
     "" using (1):4 notitle lc rgb "#c0504d", \
     "" using (2):5 notitle lc rgb "#9bbb59", \
     "" using (3):6 notitle lc rgb "#8064a2", \
     "< grep '^ceiling' ".datafile using (4):2 notitle lc rgb "#7f7f7f", \
     "" using (5):3 notitle lc rgb "#b0b0b0"

set title "10 MiB message: 1 copy vs 1 To + 50 Bcc (51 copies)"
set ylabel "ms (wall, median), log scale"
set logscale y
set xtics ("ours, 1" 0, "ours, 51" 1, "gpg, 1" 2, "gpg, 51" 3, "sq, 1" 4, "sq, 51" 5, "rnp, 1" 6, "rnp, 51" 7) rotate by -20
set yrange [*:*]
plot "< grep '^bcc' ".datafile using (0):2 notitle lc rgb "#2a7ab0", \
     "" using (1):3 notitle lc rgb "#5fa8d8", \
     "" using (2):4 notitle lc rgb "#c0504d", \
     "" using (3):7 notitle lc rgb "#e08c8a", \
     "" using (4):5 notitle lc rgb "#9bbb59", \
     "" using (5):8 notitle lc rgb "#c3d69b", \
     "" using (6):6 notitle lc rgb "#8064a2", \
     "" using (7):9 notitle lc rgb "#b3a2c7"
unset multiplot
