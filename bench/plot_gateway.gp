# The plot of `make bench-gateway`, from its own data (target/bench-gateway/data.txt):
#   gnuplot -e "datafile='target/bench-gateway/data.txt'; outfile='target/bench-gateway/results.png'" bench/plot_gateway.gp
# Lines of the data file (one per cell; NaN where a phase failed):
#   cell KIB RCPTS SESSIONS  then for (a) (b) (c) (d) each: MSGS_PER_S CPU_MS_PER_MSG P99_MS
set terminal pngcairo size 1600,800 font ",10"
set output outfile
set multiplot layout 2,4 title "make bench-gateway: Postfix with (a) no filter, (b) pgpsendmail serve before the queue, (c) pipe to pgpsendmail, (d) pipe to gpg | sendmail"
set grid
set logscale x
set logscale y
set xtics (1, 10, 50)
set xrange [0.8:70]
set key bottom right font ",8"
set style data linespoints
cells = "10,1 10,5 1024,1 1024,5"
do for [i=1:4] {
  c = word(cells, i)
  kib = substr(c, 1, strstrt(c, ",") - 1)
  rc = substr(c, strstrt(c, ",") + 1, strlen(c))
  set title sprintf("%s KiB, %s rcpt: messages/s", kib, rc)
  set xlabel "concurrent sessions"
  set ylabel "messages/s"
  sel = sprintf("< grep '^cell %s %s ' %s", kib, rc, datafile)
  plot sel using 4:5 title "(a) no filter" lc rgb "#7f7f7f" pt 7, \
       sel using 4:8 title "(b) serve" lc rgb "#2a7ab0" pt 7, \
       sel using 4:11 title "(c) pipe pgpsendmail" lc rgb "#5fa8d8" pt 5, \
       sel using 4:14 title "(d) pipe gpg" lc rgb "#c0504d" pt 9
}
set key top left font ",8"
do for [i=1:4] {
  c = word(cells, i)
  kib = substr(c, 1, strstrt(c, ",") - 1)
  rc = substr(c, strstrt(c, ",") + 1, strlen(c))
  set title sprintf("%s KiB, %s rcpt: latency p99 (end to end)", kib, rc)
  set xlabel "concurrent sessions"
  set ylabel "ms"
  sel = sprintf("< grep '^cell %s %s ' %s", kib, rc, datafile)
  plot sel using 4:7 title "(a)" lc rgb "#7f7f7f" pt 7, \
       sel using 4:10 title "(b)" lc rgb "#2a7ab0" pt 7, \
       sel using 4:13 title "(c)" lc rgb "#5fa8d8" pt 5, \
       sel using 4:16 title "(d)" lc rgb "#c0504d" pt 9
}
unset multiplot
