//! Several runs of the real sendmail at once (pgpsendmail(8), THE REAL SENDMAIL;
//! pgpsendmail.toml(5), `handoff_jobs`; docs/interface.md section 6): from 16 copies on,
//! runs (or `-bs` sessions) go two at a time under `handoff_jobs = 2`; every copy is still
//! complete with only its own key, and what is reported keeps the copies' order whichever
//! run was faster. Nothing here depends on the order the stand-in saw the copies in.

use crate::harness::*;

const HIDDEN: usize = 20;

/// A harness whose `@example.com` recipients all have the `gateway` key, with `extra`.
fn with_gateway(extra: &str) -> H {
    let fpr = fingerprint("gateway");
    H::with_keys(
        DEFAULT_KEYS,
        &format!("{extra}[recipients]\n\"@example.com\" = {{ key = \"{fpr}\" }}\n"),
    )
}

fn hidden() -> Vec<String> {
    (0..HIDDEN).map(|i| format!("h{i}@example.com")).collect()
}

/// `-i alice@example.org h0@example.com ...`: one visible copy and [`HIDDEN`] hidden ones.
fn args(hidden: &[String]) -> Vec<&str> {
    let mut a = vec!["-i", "alice@example.org"];
    a.extend(hidden.iter().map(String::as_str));
    a
}

const MSG: &[u8] = b"To: alice@example.org\nSubject: many\n\nthe body\n";

/// Every copy taken, complete, opening with its own key alone, each recipient once.
fn every_copy_once(h: &H, rcpts_of: impl Fn(usize, &Capture) -> Vec<String>) {
    let c = h.captures();
    assert_eq!(c.len(), HIDDEN + 1);
    let mut seen: Vec<String> = Vec::new();
    for (n, copy) in c.iter().enumerate() {
        let r = rcpts_of(n + 1, copy);
        assert_eq!(r.len(), 1, "{r:?}");
        let key = if r[0] == "alice@example.org" {
            "alice"
        } else {
            "gateway"
        };
        assert_eq!(copy.open(key).recipients, key_ids(key)[1..].to_vec());
        assert!(copy.body(key).ends_with(b"the body\r\n"));
        seen.extend(r);
    }
    seen.sort();
    let mut want: Vec<String> = hidden();
    want.push("alice@example.org".into());
    want.sort();
    assert_eq!(seen, want);
}

fn exists(h: &H, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(&h.capture)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(ext))
        .collect();
    v.sort();
    v
}

/// Every call of STAND_IN_MEET met another one: none waited alone.
fn met(h: &H) {
    let alone = exists(h, ".alone");
    assert!(alone.is_empty(), "{alone:?}");
}

#[test]
fn many_copies_go_two_runs_at_a_time_each_complete_with_its_own_key() {
    let mut h = with_gateway("handoff_jobs = 2\n");
    h.env.push(("STAND_IN_MEET".into(), "1".into()));
    h.ok(&args(&hidden()), MSG);
    // Two runs met: none waited alone.
    met(&h);
    every_copy_once(&h, |_, c| c.rcpts().iter().map(|s| s.to_string()).collect());
}

#[test]
fn one_job_is_one_run_at_a_time_in_the_copies_order() {
    // handoff_jobs = 1: the first run met no one; the runs came in the copies' order.
    let mut h = with_gateway("handoff_jobs = 1\n");
    h.env.push(("STAND_IN_MEET".into(), "1".into()));
    h.ok(&args(&hidden()), MSG);
    assert_eq!(exists(&h, ".alone"), ["1.alone"]);
    let order: Vec<String> = h
        .captures()
        .iter()
        .map(|c| c.rcpts()[0].to_string())
        .collect();
    let mut want = vec!["alice@example.org".to_string()];
    want.extend(hidden());
    assert_eq!(order, want);
}

#[test]
fn a_few_copies_have_one_run_at_a_time_whatever_the_setting() {
    // 15 copies (fewer than 8 per run for two): one at a time even under handoff_jobs = 4.
    let mut h = with_gateway("handoff_jobs = 4\n");
    h.env.push(("STAND_IN_MEET".into(), "1".into()));
    let few: Vec<String> = hidden().into_iter().take(14).collect();
    h.ok(&args(&few), MSG);
    assert_eq!(exists(&h, ".alone"), ["1.alone"]);
}

#[test]
fn failed_copies_are_reported_in_the_copies_order_whichever_run_was_faster() {
    // h3's and h17's runs exit 69; the line names them in that order, the rest are taken.
    let mut h = with_gateway("handoff_jobs = 2\n");
    h.env.push(("STAND_IN_MEET".into(), "1".into()));
    h.env.push((
        "STAND_IN_ONLY_RCPT".into(),
        "h17@example.com,h3@example.com".into(),
    ));
    h.env.push(("STAND_IN_EXIT".into(), "69".into()));
    let out = h.run(&args(&hidden()), MSG);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "19 of 21 copies handed on; not sent to: h3@example.com (status 69); \
             h17@example.com (status 69)"
        ),
        "{err}"
    );
    let taken = h
        .captures()
        .iter()
        .enumerate()
        .filter(|(n, _)| {
            std::fs::read_to_string(h.capture.join(format!("{}.status", n + 1))).unwrap() == "0\n"
        })
        .count();
    assert_eq!(taken, 19);
}

#[test]
fn many_copies_go_to_two_bs_sessions_at_once() {
    // The first transaction of each session waits for the other session's first.
    let mut h = with_gateway("batch_copies = 2\nhandoff_jobs = 2\n");
    h.env.push(("STAND_IN_MEET".into(), "1".into()));
    h.ok(&args(&hidden()), MSG);
    met(&h);
    let pids: std::collections::BTreeSet<String> = (1..=HIDDEN + 1)
        .map(|n| h.call_file(n, "pid").unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "two -bs sessions: {pids:?}");
    every_copy_once(&h, |n, c| {
        assert_eq!(c.args(), ["-bs"]);
        h.smtp_rcpts(n)
    });
}

#[test]
fn bs_sessions_that_die_leave_every_copy_they_did_not_take_reported() {
    // Each session is killed (SIGKILL) at its third transaction: two copies taken by each,
    // the rest reported not sent with the signal, in the copies' order; exit 69.
    let mut h = with_gateway("batch_copies = 2\nhandoff_jobs = 2\n");
    h.env.push(("STAND_IN_ONLY".into(), "3".into()));
    h.env.push(("STAND_IN_SIGNAL".into(), "9".into()));
    let out = h.run(&args(&hidden()), MSG);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(69), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("4 of 21 copies handed on; not sent to: "),
        "{err}"
    );
    assert_eq!(last.matches("(signal 9)").count(), 17, "{last}");
    let named: Vec<usize> = hidden()
        .iter()
        .filter_map(|a| last.find(&format!("{a} (")))
        .collect();
    assert!(named.windows(2).all(|w| w[0] < w[1]), "in order: {last}");
    let taken = (1..=HIDDEN + 1)
        .filter(|&n| h.call_file(n, "status").as_deref() == Some("0\n"))
        .count();
    assert_eq!(taken, 4);
}
