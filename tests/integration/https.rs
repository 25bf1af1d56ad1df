//! HTTPS servers for the discovery tests (discover.rs): a test CA made at test time
//! (rcgen), a server certificate for the real host names, and rustls on a loopback address
//! of the test's own, port 443. pgpsendmail reaches them under those names because each
//! test runs it in a private mount namespace whose /etc/hosts is the test's
//! (`unshare --mount`, a bind mount), and trusts the CA through `SSL_CERT_FILE`: the
//! product has no test hooks. Every server stops when its test drops it, and by itself
//! after [`LIFETIME`].

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The host names the servers answer for.
pub const HOSTS: &[&str] = &["openpgpkey.example.org", "example.org", "keys.openpgp.org"];
/// A server stops by itself this long after it started.
pub const LIFETIME: Duration = Duration::from_secs(120);

/// What a server answers at one host and path (with its query).
#[derive(Clone)]
pub enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// A redirect to this location.
    Redirect(String),
    /// Accepts the request and never answers.
    Hang,
}

type Routes = Arc<Mutex<HashMap<(String, String), Reply>>>;

/// A running server, its CA and hosts file; stopped on drop.
pub struct Server {
    routes: Routes,
    stop: Arc<AtomicBool>,
    /// Every request seen: "host path".
    pub log: Arc<Mutex<Vec<String>>>,
    pub ca_file: PathBuf,
    pub hosts_file: PathBuf,
}

/// A loopback address no other server of this test run uses.
fn loopback() -> std::net::Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    std::net::Ipv4Addr::new(127, (pid >> 8) as u8 | 1, pid as u8, n as u8)
}

impl Server {
    /// A server with a fresh CA, files written into `dir`.
    pub fn start(dir: &Path) -> Server {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "pgpsendmail test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = HOSTS.iter().map(|h| h.to_string()).collect();
        let leaf = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let ca_file = dir.join("test-ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        let ip = loopback();
        let listener = TcpListener::bind(SocketAddr::from((ip, 443))).unwrap();
        listener.set_nonblocking(true).unwrap();
        let hosts_file = dir.join("hosts");
        let mut hosts = "127.0.0.1 localhost\n".to_string();
        for h in HOSTS {
            hosts.push_str(&format!("{ip} {h}\n"));
        }
        std::fs::write(&hosts_file, hosts).unwrap();
        let s = Server {
            routes: Arc::default(),
            stop: Arc::default(),
            log: Arc::default(),
            ca_file,
            hosts_file,
        };
        let (routes, stop, log) = (s.routes.clone(), s.stop.clone(), s.log.clone());
        let config = Arc::new(config);
        std::thread::spawn(move || serve(listener, config, routes, stop, log));
        s
    }

    /// Answers `reply` at `https://HOST/PATH` (the path with its query).
    pub fn route(&self, host: &str, path: &str, reply: Reply) {
        self.routes
            .lock()
            .unwrap()
            .insert((host.to_string(), path.to_string()), reply);
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    routes: Routes,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<String>>>,
) {
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < LIFETIME {
        match listener.accept() {
            Ok((tcp, _)) => {
                let (config, routes, stop, log) =
                    (config.clone(), routes.clone(), stop.clone(), log.clone());
                std::thread::spawn(move || {
                    let _ = answer(tcp, config, &routes, &stop, &log, started);
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// One connection: one request, one answer.
fn answer(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    routes: &Routes,
    stop: &AtomicBool,
    log: &Mutex<Vec<String>>,
    started: Instant,
) -> std::io::Result<()> {
    tcp.set_nonblocking(false)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16384 {
        if tls.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let path = text.split(' ').nth(1).unwrap_or("").to_string();
    let host = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("Host: ")
                .or_else(|| l.strip_prefix("host: "))
        })
        .unwrap_or("")
        .trim()
        .to_string();
    log.lock().unwrap().push(format!("{host} {path}"));
    let reply = routes.lock().unwrap().get(&(host, path)).cloned();
    let response = match reply {
        Some(Reply::Body(b)) => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                b.len()
            )
            .into_bytes();
            r.extend_from_slice(&b);
            r
        }
        Some(Reply::Redirect(to)) => format!(
            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
        Some(Reply::Hang) => {
            while !stop.load(Ordering::Relaxed) && started.elapsed() < LIFETIME {
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(());
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    };
    tls.write_all(&response)?;
    tls.flush()?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}
