//! End-to-end test support: runs the real server binaries on loopback (on the embedded store
//! or on a throwaway etcd) and gives tests kubectl, kube-rs and raw HTTP clients for them.
//!
//! Every behaviour is checked on both storage backends: [`on_each_backend`] (and its async
//! twin [`on_each_backend_async`]) runs a test body once against a server on the embedded store
//! and once against a server on a fresh etcd.

use std::future::Future;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
pub use ironcore_testing::EtcdProcess;
use serde_json::Value;

/// Which storage a server under test uses.
#[derive(Clone, Debug)]
pub enum Backend {
    /// The embedded store in the server's temporary directory.
    Embedded,
    /// etcd at this endpoint.
    Etcd(String),
}

/// A server binary running on loopback with its own directory, port and kubeconfig.
pub struct ServerProcess {
    binary: PathBuf,
    backend: Backend,
    extra_args: Vec<String>,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

/// Path of a workspace binary, next to the test executable's `deps/` directory.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --bins`, as hack/test.sh does)",
        path.display()
    );
    path
}

/// Flags every kubectl write (`create`, `apply`, `replace`, `edit`) gets.
///
/// None: the server serves OpenAPI, so kubectl validates as against kube-apiserver
/// (`fieldValidation=Strict`, checked by the server).
pub const KUBECTL_WRITE_FLAGS: &[&str] = &[];

impl ServerProcess {
    /// Starts `ironcore-apiserver` on `backend` and waits until it is ready.
    pub fn ironcore(backend: Backend) -> Self {
        Self::start("ironcore-apiserver", backend, &[])
    }

    /// Starts binary `name` with `extra_args` and waits until it is ready.
    pub fn start(name: &str, backend: Backend, extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = ironcore_testing::free_port().expect("free port");
        let mut s = ServerProcess {
            binary: binary(name),
            backend,
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            dir,
            port,
            child: None,
        };
        s.spawn_fresh();
        s.write_kubeconfig();
        s
    }

    /// Starts the process on its port (kept across restarts: kubeconfigs name it).
    fn spawn(&mut self) {
        if let Err(log) = self.try_spawn() {
            panic!("server did not start; log:\n{log}");
        }
    }

    /// Starts the process for the first time. The port was free when it was picked, but
    /// another process may take it before the server binds it: then the server is started
    /// again on another free port.
    fn spawn_fresh(&mut self) {
        for _ in 0..4 {
            match self.try_spawn() {
                Ok(()) => return,
                Err(log) if log.contains("in use") => {
                    self.port = ironcore_testing::free_port().expect("free port");
                }
                Err(log) => panic!("server did not start; log:\n{log}"),
            }
        }
        panic!("server did not start: every port tried was taken");
    }

    /// Spawns the process and waits until it serves; the log of this run when it did not.
    fn try_spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={}", self.port))
            .arg(format!(
                "--cert-dir={}",
                self.dir.path().join("certs").display()
            ))
            .arg("--watch-bookmark-interval=1s")
            .args(&self.extra_args);
        match &self.backend {
            Backend::Embedded => {
                cmd.arg(format!("--data-dir={}", self.data_path().display()));
            }
            Backend::Etcd(endpoint) => {
                cmd.arg(format!("--etcd-servers={endpoint}"))
                    .arg(format!("--etcd-prefix={}", self.etcd_prefix()));
            }
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("log file");
        let logged_before = self.log().len();
        cmd.stdout(Stdio::null()).stderr(log);
        self.child = Some(cmd.spawn().expect("spawn server"));
        self.wait_ready(logged_before)
    }

    /// The embedded store's database file.
    fn data_path(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A unique prefix keeps servers sharing one etcd apart.
    fn etcd_prefix(&self) -> String {
        format!("/registry/test-{}", self.port)
    }

    /// Waits until this run of the process (its log after `logged_before` bytes) says it
    /// serves and its port accepts connections: a connection alone could reach another
    /// process that took the port. The run's log when it exited or never got there.
    fn wait_ready(&mut self, logged_before: usize) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let log = self.log();
            let this_run = log.get(logged_before..).unwrap_or_default();
            if this_run.contains("serving HTTPS")
                && TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!("(exited with {status})\n{this_run}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("(not serving after 30 s)\n{}", self.log()))
    }

    fn write_kubeconfig(&self) {
        let ca = self.dir.path().join("certs").join("ca.crt");
        let cfg = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: test\n  user:\n    token: test-token\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n    namespace: default\ncurrent-context: test\n",
            self.url(),
            ca.display()
        );
        std::fs::write(self.kubeconfig(), cfg).expect("write kubeconfig");
    }

    /// The storage backend this server runs on.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The kubeconfig that reaches this server.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A directory private to this server, for files a test needs (scripts, manifests).
    pub fn scratch_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read(self.dir.path().join("server.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Stops the server (SIGKILL) and starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Sends SIGTERM and waits for the process to exit; its exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                return c.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server process.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server, compacts its storage at the current revision from outside the server
    /// (as `etcdctl compact` or etcd's auto-compaction would, through the storage crate's
    /// `Store::compact`) and starts the server again.
    ///
    /// A fresh server process can then no longer serve anything before the compaction point:
    /// this is one way tests get a "too old" resource version.
    pub async fn compact_storage(&mut self) {
        use ironcore_storage::Store;
        self.stop();
        match &self.backend {
            Backend::Embedded => {
                let store = ironcore_storage::EmbeddedStore::open_path(self.data_path())
                    .expect("open embedded store");
                let rev = store.current_revision().await.expect("current revision");
                store.compact(rev).await.expect("compact embedded store");
            }
            Backend::Etcd(endpoint) => {
                let store =
                    ironcore_storage::EtcdStore::connect(ironcore_storage::EtcdConfig::new([
                        endpoint.as_str(),
                    ]))
                    .await
                    .expect("connect to etcd");
                let rev = store.current_revision().await.expect("current revision");
                store.compact(rev).await.expect("compact etcd");
            }
        }
        self.spawn();
    }

    /// Runs the `kubectl` on the PATH against this server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_input(args, None)
    }

    /// Runs kubectl with `input` on its standard input.
    pub fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        kubectl_binary(Path::new("kubectl"), &self.kubeconfig(), args, input)
    }

    /// Runs a kubectl command that writes objects (`apply`, `create`, `replace`, `edit`) with
    /// [`KUBECTL_WRITE_FLAGS`] appended, and `input` on its standard input.
    pub fn kubectl_write(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut all = args.to_vec();
        all.extend_from_slice(KUBECTL_WRITE_FLAGS);
        self.kubectl_with_input(&all, input)
    }

    /// `kubectl apply -f -` of `manifest`; panics unless it succeeds, returns its stdout.
    pub fn apply(&self, manifest: &str) -> String {
        ok(self.kubectl_write(&["apply", "-f", "-"], Some(manifest)))
    }

    /// A kubectl command against this server, ready to be customised (environment) and run.
    pub fn kubectl_command(&self, args: &[&str]) -> Command {
        kubectl_command(Path::new("kubectl"), &self.kubeconfig(), args)
    }

    /// Starts kubectl in the background with piped stdout and stderr (e.g. `get -w`).
    pub fn kubectl_spawn(&self, args: &[&str]) -> Child {
        let mut cmd = self.kubectl_command(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("spawn kubectl")
    }

    /// A kube-rs client for this server.
    pub async fn client(&self) -> kube::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("read kubeconfig");
        let cfg =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .expect("kube config");
        kube::Client::try_from(cfg).expect("kube client")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            eprintln!("--- server log tail ({:?}) ---\n{tail}", self.backend);
        }
    }
}

/// Runs `body` against a server on the embedded store, then against one on a fresh etcd.
pub fn on_each_backend(body: impl Fn(ServerProcess)) {
    on_each_backend_with_args(&[], body);
}

/// [`on_each_backend`] with extra server flags.
///
/// Both backends always run; a failure on either fails the test, naming the backend(s).
pub fn on_each_backend_with_args(extra_args: &[&str], body: impl Fn(ServerProcess)) {
    let mut failed = Vec::new();
    for backend in backends() {
        let name = backend_name(&backend.1);
        eprintln!("=== backend {name}");
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let server = ServerProcess::start("ironcore-apiserver", backend.1.clone(), extra_args);
            body(server);
        }));
        drop(backend);
        if run.is_err() {
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "failed on backend(s): {}",
        failed.join(", ")
    );
}

/// Runs the async `body` against a server on the embedded store, then against one on a fresh
/// etcd, each on its own multi-threaded tokio runtime.
pub fn on_each_backend_async<F, Fut>(body: F)
where
    F: Fn(ServerProcess) -> Fut,
    Fut: Future<Output = ()>,
{
    on_each_backend(|server| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(body(server));
    });
}

/// The two backends in order; the etcd one holds its process so that it lives for the run.
fn backends() -> [(Option<EtcdProcess>, Backend); 2] {
    let etcd = EtcdProcess::start().expect("start etcd");
    let endpoint = etcd.endpoint();
    [
        (None, Backend::Embedded),
        (Some(etcd), Backend::Etcd(endpoint)),
    ]
}

fn backend_name(b: &Backend) -> &'static str {
    match b {
        Backend::Embedded => "embedded",
        Backend::Etcd(_) => "etcd",
    }
}

/// A kubectl command with a kubeconfig and an isolated cache directory, not yet run.
pub fn kubectl_command(bin: &Path, kubeconfig: &Path, args: &[&str]) -> Command {
    let cache = kubeconfig.with_file_name(format!(
        "kubectl-cache-{}",
        bin.file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("kubectl")
    ));
    let mut cmd = Command::new(bin);
    cmd.env("KUBECONFIG", kubeconfig)
        .arg(format!("--cache-dir={}", cache.display()))
        .args(args);
    cmd
}

/// Runs a kubectl binary with a kubeconfig and an isolated cache directory.
pub fn kubectl_binary(bin: &Path, kubeconfig: &Path, args: &[&str], input: Option<&str>) -> Output {
    let mut cmd = kubectl_command(bin, kubeconfig, args);
    run_with_input(&mut cmd, input)
}

/// Runs `cmd` with `input` on its standard input and collects its output.
pub fn run_with_input(cmd: &mut Command, input: Option<&str>) -> Output {
    use std::io::Write;
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn command");
    if let Some(text) = input {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("command output")
}

/// Stdout of a successful command, or a panic with its stderr.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\nstdout: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr of a failed command, or a panic with its stdout.
pub fn fails(out: Output) -> String {
    assert!(
        !out.status.success(),
        "command unexpectedly succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Waits until `child` exits or `timeout` passes; kills it on timeout and panics.
pub fn wait_with_deadline(mut child: Child, timeout: Duration, what: &str) -> Output {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait().expect("poll child") {
            Some(_) => return child.wait_with_output().expect("child output"),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("child output");
                panic!(
                    "{what} did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Polls `check` every 50 ms until it returns `Some`, panicking with `what` after `timeout`.
pub fn poll_until<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The seed's examples (`docs/examples/*.yaml`, without `-reconciled` variants should any
/// appear there): the objects a user writes, as (file stem, manifest) pairs in file-name order.
pub fn seed_examples() -> Vec<(String, String)> {
    let dir = seed_dir();
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_owned();
            (!stem.ends_with("-reconciled")).then_some(stem)
        })
        .map(|stem| {
            let text = seed(&stem);
            (stem, text)
        })
        .collect();
    out.sort();
    out
}

/// One seed example by file stem from `docs/examples`, e.g. `seed("network")`.
pub fn seed(stem: &str) -> String {
    let path = seed_dir().join(format!("{stem}.yaml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The seed's reconciled shapes (`api/tests/seed/*-reconciled.yaml`): the examples with the
/// status the seed shows after the controllers ran, as (file stem, manifest) pairs.
pub fn seed_reconciled() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/tests/seed");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_owned();
            let yaml = p.extension().is_some_and(|x| x == "yaml");
            (yaml && stem.ends_with("-reconciled")).then(|| {
                let text = std::fs::read_to_string(&p)
                    .unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
                (stem, text)
            })
        })
        .collect();
    out.sort();
    out
}

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples")
}

/// The API group and version every networking path starts with.
pub const NETWORKING: &str = "/apis/networking.ironcore.dev/v1alpha1";

/// The collection path of `plural` in namespace `ns`.
pub fn collection(ns: &str, plural: &str) -> String {
    format!("{NETWORKING}/namespaces/{ns}/{plural}")
}

/// A raw HTTP response: status, headers and body text.
#[derive(Debug)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: http::StatusCode,
    /// The response headers.
    pub headers: http::HeaderMap,
    /// The body as text.
    pub body: String,
}

impl RawResponse {
    /// The body parsed as JSON; panics if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// Every `Warning` header value.
    pub fn warnings(&self) -> Vec<String> {
        self.headers
            .get_all("warning")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }
}

/// Sends a raw request through kube-rs's client (its TLS and credentials) and reads the whole
/// response, whatever its status.
pub async fn raw(
    client: &kube::Client,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> RawResponse {
    let mut req = http::Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        req = req.header(http::header::CONTENT_TYPE, ct);
    }
    let req = req.body(kube::client::Body::from(body)).expect("request");
    let res = client.send(req).await.expect("send request");
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("read body").to_bytes();
    RawResponse {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `GET uri` as JSON; panics unless the status is 200.
pub async fn get_json(client: &kube::Client, uri: &str) -> Value {
    let res = raw(client, "GET", uri, None, Vec::new()).await;
    assert_eq!(res.status, 200, "GET {uri}: {}", res.body);
    res.json()
}

/// A watch response read event by event.
pub struct Watch {
    /// The HTTP status of the watch response.
    pub status: http::StatusCode,
    /// The response headers.
    pub headers: http::HeaderMap,
    body: kube::client::Body,
    buf: Vec<u8>,
    ended: bool,
}

impl Watch {
    /// Opens a watch on `uri` (which must carry `watch=true`).
    pub async fn open(client: &kube::Client, uri: &str) -> Self {
        let req = http::Request::builder()
            .method("GET")
            .uri(uri)
            .header(http::header::ACCEPT_ENCODING, "identity")
            .body(kube::client::Body::empty())
            .expect("request");
        let res = client.send(req).await.expect("open watch");
        let (parts, body) = res.into_parts();
        Watch {
            status: parts.status,
            headers: parts.headers,
            body,
            buf: Vec::new(),
            ended: false,
        }
    }

    /// The next event line as JSON, `None` when the stream ended; panics if nothing arrives
    /// within `timeout` or a line is not one JSON object.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<Value> {
        match tokio::time::timeout(timeout, self.next_line()).await {
            Ok(line) => line.map(|l| {
                serde_json::from_slice(&l).unwrap_or_else(|e| {
                    panic!(
                        "watch line is not JSON ({e}): {}",
                        String::from_utf8_lossy(&l)
                    )
                })
            }),
            Err(_) => panic!("no watch event within {timeout:?}"),
        }
    }

    /// The next event that is not a BOOKMARK; `None` when the stream ended.
    pub async fn next_change(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let ev = self.next_event(left).await?;
            if ev["type"] != "BOOKMARK" {
                return Some(ev);
            }
        }
    }

    /// The next non-BOOKMARK event, or `None` if none arrives within `timeout` or the stream
    /// ends first (never panics on a timeout).
    pub async fn try_next_change(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let line = tokio::time::timeout(left, self.next_line()).await.ok()??;
            let ev: Value = serde_json::from_slice(&line).expect("watch line is JSON");
            if ev["type"] != "BOOKMARK" {
                return Some(ev);
            }
        }
    }

    /// Every non-BOOKMARK event that arrives within `quiet` (the stream may stay open).
    pub async fn changes_within(&mut self, quiet: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + quiet;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.next_line()).await {
                Ok(Some(line)) => {
                    let ev: Value = serde_json::from_slice(&line).expect("watch line is JSON");
                    if ev["type"] != "BOOKMARK" {
                        out.push(ev);
                    }
                }
                Ok(None) | Err(_) => return out,
            }
        }
    }

    async fn next_line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let line = line[..line.len() - 1].to_vec();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(line);
            }
            if self.ended {
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    return None;
                }
                return Some(std::mem::take(&mut self.buf));
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Some(Err(_)) | None => self.ended = true,
            }
        }
    }
}

/// `metadata.resourceVersion` of an object or list as a number.
pub fn rv_of(v: &Value) -> i64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no numeric resourceVersion in {v}"))
}

/// A controller binary (`ironcore-controller-manager`, `apinetlet`) running as a process with
/// its probe and metrics endpoints on free loopback ports; killed when dropped.
pub struct ControllerProcess {
    name: String,
    dir: tempfile::TempDir,
    health_port: u16,
    metrics_port: u16,
    child: Option<Child>,
}

impl ControllerProcess {
    /// Starts binary `name` with `args` (plus `--health-probe-bind-address` and
    /// `--metrics-bind-address` on free loopback ports) and waits until `/readyz` answers 200.
    /// A port taken by another process between picking and binding it (the free-port race)
    /// is replaced by another.
    pub fn start(name: &str, args: &[String]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut c = ControllerProcess {
            name: name.to_owned(),
            dir,
            health_port: 0,
            metrics_port: 0,
            child: None,
        };
        for _ in 0..4 {
            c.health_port = ironcore_testing::free_port().expect("free port");
            c.metrics_port = ironcore_testing::free_port().expect("free port");
            let log = std::fs::File::create(c.dir.path().join("controller.log")).expect("log file");
            let child = Command::new(binary(name))
                .arg(format!(
                    "--health-probe-bind-address=127.0.0.1:{}",
                    c.health_port
                ))
                .arg(format!(
                    "--metrics-bind-address=127.0.0.1:{}",
                    c.metrics_port
                ))
                .args(args)
                .env("RUST_LOG", "info,ironcore_controllers=debug")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn controller");
            c.child = Some(child);
            match c.wait_ready() {
                Ok(()) => return c,
                Err(log) if log.contains("in use") => continue,
                Err(log) => panic!("{name} did not become ready; log:\n{log}"),
            }
        }
        panic!("{name} did not start: every port tried was taken");
    }

    /// Waits until `/readyz` answers 200; the log when the process exited or never did.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.http_get("/readyz", self.health_port).0 == 200 {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!("(exited with {status})\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("(not ready after 30 s)\n{}", self.log()))
    }

    /// `GET path` on loopback `port` over plain HTTP/1.1: (status, body); status 0 when the
    /// request failed.
    fn http_get(&self, path: &str, port: u16) -> (u16, String) {
        use std::io::{Read, Write};
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return (0, String::new());
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        if s.write_all(req.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        let status = buf
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = buf
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// `GET path` on the probe endpoint: (status, body).
    pub fn probe(&self, path: &str) -> (u16, String) {
        self.http_get(path, self.health_port)
    }

    /// The body of `GET /metrics`.
    pub fn metrics(&self) -> String {
        self.http_get("/metrics", self.metrics_port).1
    }

    /// Sends SIGTERM and waits (up to 20 s, then SIGKILL) for the process to exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                return c.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET path` on the metrics endpoint (e.g. the netlet's `/dataplane`): (status, body).
    pub fn metrics_get(&self, path: &str) -> (u16, String) {
        self.http_get(path, self.metrics_port)
    }

    /// The controller's log so far.
    pub fn log(&self) -> String {
        std::fs::read(self.dir.path().join("controller.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            eprintln!("--- {} log tail ---\n{tail}", self.name);
        }
    }
}
