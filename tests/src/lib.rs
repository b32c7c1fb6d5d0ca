//! End-to-end test support: runs the real server binaries on loopback (on the embedded store
//! or on a throwaway etcd) and gives tests kubectl, kube-rs and raw HTTP clients for them.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use ironcore_testing::EtcdProcess;

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
        s.spawn();
        s.write_kubeconfig();
        s
    }

    fn spawn(&mut self) {
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
                cmd.arg(format!(
                    "--data-dir={}",
                    self.dir.path().join("data").display()
                ));
            }
            Backend::Etcd(endpoint) => {
                // A unique prefix keeps servers sharing one etcd apart.
                let prefix = format!("/registry/test-{}", self.port);
                cmd.arg(format!("--etcd-servers={endpoint}"))
                    .arg(format!("--etcd-prefix={prefix}"));
            }
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("log file");
        cmd.stdout(Stdio::null()).stderr(log);
        self.child = Some(cmd.spawn().expect("spawn server"));
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not start; log:\n{}", self.log());
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

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The kubeconfig that reaches this server.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Stops the server (SIGKILL) and starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Kills the server process.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs the `kubectl` on the PATH against this server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_input(args, None)
    }

    /// Runs kubectl with `input` on its standard input.
    pub fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        kubectl_binary(Path::new("kubectl"), &self.kubeconfig(), args, input)
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
    }
}

/// Runs a kubectl binary with a kubeconfig and an isolated cache directory.
pub fn kubectl_binary(bin: &Path, kubeconfig: &Path, args: &[&str], input: Option<&str>) -> Output {
    use std::io::Write;
    let cache = kubeconfig.with_file_name(format!(
        "kubectl-cache-{}",
        bin.file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("kubectl")
    ));
    let mut cmd = Command::new(bin);
    cmd.env("KUBECONFIG", kubeconfig)
        .arg(format!("--cache-dir={}", cache.display()))
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn kubectl");
    if let Some(text) = input {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("kubectl output")
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
