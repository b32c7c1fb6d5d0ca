//! Test harnesses shared by the workspace's tests and benchmarks.
//!
//! [`EtcdProcess`] runs a throwaway single-member etcd (Debian's `/usr/bin/etcd`, package
//! `etcd-server`) on 127.0.0.1 with two free ports and a fresh data directory, waits until it
//! is healthy, and kills it (by its pid) when dropped. It binds to loopback only.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the etcd binary to run instead of the default.
pub const ETCD_BIN_ENV: &str = "IRONCORE_ETCD_BIN";

/// Where Debian's `etcd-server` package installs etcd.
pub const DEFAULT_ETCD_BIN: &str = "/usr/bin/etcd";

/// How long [`EtcdProcess::start`] waits for etcd to report healthy.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of the test harness.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// No etcd binary was found.
    #[error(
        "etcd not found at {0}: install Debian's `etcd-server` package (hack/test.sh does) or set {ETCD_BIN_ENV}"
    )]
    EtcdNotFound(PathBuf),
    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// etcd did not become healthy in time; carries the tail of its log.
    #[error("etcd did not become healthy within {timeout:?}; log tail:\n{log}")]
    NotHealthy {
        /// How long we waited.
        timeout: Duration,
        /// The last lines etcd logged.
        log: String,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let context = context.into();
    move |source| HarnessError::Io { context, source }
}

/// TLS settings for etcd's client port (PEM files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdServerTls {
    /// Serving certificate (`--cert-file`); must be valid for IP 127.0.0.1.
    pub cert_file: PathBuf,
    /// Its key (`--key-file`).
    pub key_file: PathBuf,
    /// CA that client certificates must chain to (`--trusted-ca-file`, enables
    /// `--client-cert-auth`); `None` = no client certificates required.
    pub client_ca_file: Option<PathBuf>,
}

/// A single-member etcd on loopback with its own ports and temporary data directory.
#[derive(Debug)]
pub struct EtcdProcess {
    bin: PathBuf,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    /// Plain-HTTP port serving `/health` (and metrics), also when the client port is TLS.
    metrics_port: u16,
    tls: Option<EtcdServerTls>,
    child: Option<Child>,
    /// Extra command-line flags passed on every (re)start.
    extra_args: Vec<String>,
}

impl EtcdProcess {
    /// Starts etcd with a fresh data directory and waits until it is healthy.
    pub fn start() -> Result<Self, HarnessError> {
        Self::start_with_args(Vec::<String>::new())
    }

    /// Starts etcd serving clients over TLS (`https://` endpoint), otherwise as [`start`].
    ///
    /// [`start`]: EtcdProcess::start
    pub fn start_tls(tls: EtcdServerTls) -> Result<Self, HarnessError> {
        Self::start_inner(Some(tls), Vec::new())
    }

    /// Starts etcd with extra flags (e.g. `--auto-compaction-retention`), otherwise as [`start`].
    ///
    /// [`start`]: EtcdProcess::start
    pub fn start_with_args<I, S>(extra_args: I) -> Result<Self, HarnessError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::start_inner(None, extra_args.into_iter().map(Into::into).collect())
    }

    fn start_inner(
        tls: Option<EtcdServerTls>,
        extra_args: Vec<String>,
    ) -> Result<Self, HarnessError> {
        let bin = etcd_binary()?;
        // Two free ports are picked by binding port 0; another process may grab one before etcd
        // does, so a failed start is retried with new ports.
        let mut last_err = None;
        for _ in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("ironcore-etcd-")
                .tempdir()
                .map_err(io_err("creating etcd temp dir"))?;
            let (client_port, peer_port) = free_port_pair()?;
            let metrics_port = free_port()?;
            let mut etcd = EtcdProcess {
                bin: bin.clone(),
                dir,
                client_port,
                peer_port,
                metrics_port,
                tls: tls.clone(),
                child: None,
                extra_args: extra_args.clone(),
            };
            match etcd.spawn_and_wait() {
                Ok(()) => return Ok(etcd),
                Err(e) => {
                    tracing::warn!(error = %e, "etcd failed to start, retrying with new ports");
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or(HarnessError::NotHealthy {
            timeout: START_TIMEOUT,
            log: String::new(),
        }))
    }

    /// The client URL, e.g. `http://127.0.0.1:41234` (as given to `--etcd-servers`);
    /// `https://` when started with TLS.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// The client address.
    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.client_port))
    }

    /// The data directory (kept across [`stop`](Self::stop) and [`restart`](Self::restart)).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The file etcd's output goes to.
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// The pid of the running etcd, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether etcd currently answers its health endpoint.
    pub fn is_healthy(&self) -> bool {
        health_check(self.metrics_addr())
    }

    fn metrics_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.metrics_port))
    }

    /// Stops etcd gracefully (SIGTERM, then SIGKILL after 10 s); the data directory is kept.
    pub fn stop(&mut self) -> Result<(), HarnessError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id().to_string();
        // Signal exactly this pid; `kill` is coreutils/procps, present on every Debian.
        let termed = Command::new("kill")
            .args(["-TERM", &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if termed {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child
                    .try_wait()
                    .map_err(io_err("waiting for etcd"))?
                    .is_some()
                {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        kill_child(&mut child)
    }

    /// Kills etcd at once (SIGKILL), as a crash would; the data directory is kept.
    pub fn kill(&mut self) -> Result<(), HarnessError> {
        match self.child.take() {
            Some(mut child) => kill_child(&mut child),
            None => Ok(()),
        }
    }

    /// Starts etcd again on the same data directory and ports (stopping it first if it runs),
    /// and waits until it is healthy.
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        self.stop()?;
        self.start_again()
    }

    /// Starts a stopped etcd again on the same data directory and ports.
    pub fn start_again(&mut self) -> Result<(), HarnessError> {
        if self.child.is_some() {
            return Ok(());
        }
        // The ports were ours a moment ago; wait briefly in case the old sockets linger.
        let mut last_err = None;
        for _ in 0..5 {
            match self.spawn_and_wait() {
                Ok(()) => return Ok(()),
                Err(e) => {
                    last_err = Some(e);
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        Err(last_err.unwrap_or(HarnessError::NotHealthy {
            timeout: START_TIMEOUT,
            log: String::new(),
        }))
    }

    fn spawn_and_wait(&mut self) -> Result<(), HarnessError> {
        let client_url = self.endpoint();
        let metrics_url = format!("http://127.0.0.1:{}", self.metrics_port);
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_file())
            .map_err(io_err("opening etcd log"))?;
        let log_err = log.try_clone().map_err(io_err("opening etcd log"))?;
        let data_dir = self.data_dir();
        let mut child = Command::new(&self.bin)
            .arg("--name")
            .arg("ironcore-test")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--listen-client-urls")
            .arg(&client_url)
            .arg("--advertise-client-urls")
            .arg(&client_url)
            .arg("--listen-peer-urls")
            .arg(&peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer_url)
            .arg("--initial-cluster")
            .arg(format!("ironcore-test={peer_url}"))
            .arg("--initial-cluster-state")
            .arg("new")
            .arg("--listen-metrics-urls")
            .arg(&metrics_url)
            .args(self.tls_args())
            .arg("--logger")
            .arg("zap")
            .arg("--log-level")
            .arg("warn")
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(io_err(format!("spawning {}", self.bin.display())))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().map_err(io_err("waiting for etcd"))? {
                return Err(HarnessError::NotHealthy {
                    timeout: START_TIMEOUT,
                    log: format!("etcd exited with {status}\n{}", self.log_tail()),
                });
            }
            if health_check(self.metrics_addr()) {
                tracing::debug!(endpoint = %client_url, pid = child.id(), "etcd is healthy");
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = kill_child(&mut child);
                return Err(HarnessError::NotHealthy {
                    timeout: START_TIMEOUT,
                    log: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn tls_args(&self) -> Vec<std::ffi::OsString> {
        let Some(tls) = &self.tls else {
            return Vec::new();
        };
        let mut args: Vec<std::ffi::OsString> = vec![
            "--cert-file".into(),
            tls.cert_file.clone().into(),
            "--key-file".into(),
            tls.key_file.clone().into(),
        ];
        if let Some(ca) = &tls.client_ca_file {
            args.extend([
                "--client-cert-auth".into(),
                "--trusted-ca-file".into(),
                ca.clone().into(),
            ]);
        }
        args
    }

    /// The last 40 lines of etcd's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill_child(&mut child);
        }
    }
}

fn kill_child(child: &mut Child) -> Result<(), HarnessError> {
    // `Child::kill` sends SIGKILL to exactly this pid.
    match child.kill() {
        Ok(()) => {}
        // Already exited.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {}
        Err(e) => return Err(io_err("killing etcd")(e)),
    }
    child.wait().map_err(io_err("reaping etcd"))?;
    Ok(())
}

/// The etcd binary: `$IRONCORE_ETCD_BIN`, else `/usr/bin/etcd`.
pub fn etcd_binary() -> Result<PathBuf, HarnessError> {
    let bin = std::env::var_os(ETCD_BIN_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ETCD_BIN));
    if Path::new(&bin).is_file() {
        Ok(bin)
    } else {
        Err(HarnessError::EtcdNotFound(bin))
    }
}

/// Two distinct free TCP ports on 127.0.0.1.
pub fn free_port_pair() -> Result<(u16, u16), HarnessError> {
    let a = TcpListener::bind("127.0.0.1:0").map_err(io_err("binding a free port"))?;
    let b = TcpListener::bind("127.0.0.1:0").map_err(io_err("binding a free port"))?;
    let pa = a
        .local_addr()
        .map_err(io_err("reading a bound port"))?
        .port();
    let pb = b
        .local_addr()
        .map_err(io_err("reading a bound port"))?
        .port();
    Ok((pa, pb))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16, HarnessError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(io_err("binding a free port"))?;
    Ok(l.local_addr()
        .map_err(io_err("reading a bound port"))?
        .port())
}

/// `GET /health` over plain HTTP/1.0; true when etcd answers `"health":"true"`.
fn health_check(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut body = String::new();
    if stream.read_to_string(&mut body).is_err() {
        return false;
    }
    body.starts_with("HTTP/1.") && body.contains("200") && body.contains("\"health\":\"true\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_stop_restart_keeps_ports_and_data() -> Result<(), HarnessError> {
        let mut etcd = EtcdProcess::start()?;
        let endpoint = etcd.endpoint();
        assert!(etcd.is_healthy());
        let pid = etcd.pid();
        etcd.restart()?;
        assert_eq!(etcd.endpoint(), endpoint);
        assert_ne!(etcd.pid(), pid);
        assert!(etcd.is_healthy());
        assert!(etcd.data_dir().join("member").is_dir());
        etcd.kill()?;
        assert!(!etcd.is_healthy());
        etcd.start_again()?;
        assert!(etcd.is_healthy());
        Ok(())
    }
}
