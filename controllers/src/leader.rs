//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection` does it:
//! a candidate takes the Lease when it is absent, released, or not renewed for
//! `lease_duration` (measured on the candidate's own clock from when it last saw the Lease
//! change, so clock skew between replicas does not matter); the leader renews it every
//! `retry_period` and gives up leadership when it could not renew for `renew_deadline`. Every
//! write is conditioned on the Lease's `resourceVersion`, so two candidates never both win.
//!
//! The Lease lives in the cluster of `--leader-election-kubeconfig` (default: the binary's main
//! kubeconfig), i.e. the kube-apiserver the API servers are aggregated into; the API servers
//! themselves do not serve Leases.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;

use crate::error::{Error, Result, is_conflict, is_not_found};

/// Flags of leader election (on top of `--leader-elect`).
#[derive(Clone, Debug, clap::Args)]
pub struct LeaderFlags {
    /// Kubeconfig of the cluster holding the Lease. Unset: the binary's main kubeconfig.
    #[arg(long)]
    pub leader_election_kubeconfig: Option<PathBuf>,
    /// Namespace of the Lease. Unset: `POD_NAMESPACE`, else `default`.
    #[arg(long)]
    pub leader_election_namespace: Option<String>,
    /// Name of the Lease. Unset: the binary's upstream lock name.
    #[arg(long)]
    pub leader_election_id: Option<String>,
    /// How long a Lease that is not renewed keeps other candidates away, in seconds.
    #[arg(long, default_value_t = 15)]
    pub leader_election_lease_duration_seconds: u64,
    /// How long the leader keeps trying to renew before it gives up leadership, in seconds.
    #[arg(long, default_value_t = 10)]
    pub leader_election_renew_deadline_seconds: u64,
    /// How often candidates try to take the Lease and the leader renews it, in seconds.
    #[arg(long, default_value_t = 2)]
    pub leader_election_retry_period_seconds: u64,
}

/// The timing of one election.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// See [`LeaderFlags::leader_election_lease_duration_seconds`].
    pub lease_duration: Duration,
    /// See [`LeaderFlags::leader_election_renew_deadline_seconds`].
    pub renew_deadline: Duration,
    /// See [`LeaderFlags::leader_election_retry_period_seconds`].
    pub retry_period: Duration,
}

impl LeaderFlags {
    /// The timing the flags ask for (renew deadline kept below the lease duration).
    pub fn timing(&self) -> Timing {
        let lease = Duration::from_secs(self.leader_election_lease_duration_seconds.max(1));
        let renew = Duration::from_secs(self.leader_election_renew_deadline_seconds.max(1));
        Timing {
            lease_duration: lease,
            renew_deadline: renew.min(lease),
            retry_period: Duration::from_secs(self.leader_election_retry_period_seconds.max(1)),
        }
    }

    /// The Lease namespace: the flag, `POD_NAMESPACE`, or `default`.
    pub fn namespace(&self) -> String {
        self.leader_election_namespace
            .clone()
            .or_else(|| {
                std::env::var("POD_NAMESPACE")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "default".to_owned())
    }
}

/// A unique identity of this process: `<hostname>_<random>`.
pub fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned());
    let suffix: String = (0..10)
        .map(|_| fastrand::alphanumeric().to_ascii_lowercase())
        .collect();
    format!("{host}_{suffix}")
}

/// Leadership once won: resolves [`Leadership::lost`] when renewing failed for the renew
/// deadline; releases the Lease on [`Leadership::release`].
pub struct Leadership {
    lost: watch::Receiver<bool>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    api: Api<Lease>,
    name: String,
    identity: String,
}

/// One candidate for one Lease.
#[derive(Clone)]
pub struct Candidate {
    api: Api<Lease>,
    name: String,
    identity: String,
    timing: Timing,
}

/// What the candidate last saw of the Lease, on its own clock.
struct Observed {
    holder: String,
    renew_time: Option<MicroTime>,
    at: Instant,
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl Candidate {
    /// A candidate `identity` for Lease `namespace/name` in the cluster of `client`.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timing: Timing,
    ) -> Self {
        Candidate {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            timing,
        }
    }

    /// Tries to take or renew the Lease once; returns whether this candidate holds it now.
    async fn try_acquire_or_renew(&self, seen: &mut Option<Observed>) -> Result<bool> {
        let secs = i32::try_from(self.timing.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(now()),
                    renew_time: Some(now()),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                // AlreadyExists: another candidate created it first.
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(e.into()),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let changed = seen
            .as_ref()
            .is_none_or(|o| o.holder != holder || o.renew_time != spec.renew_time);
        if changed {
            *seen = Some(Observed {
                holder: holder.clone(),
                renew_time: spec.renew_time.clone(),
                at: Instant::now(),
            });
        }
        let held_by_other = !holder.is_empty() && holder != self.identity;
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.timing.lease_duration, Duration::from_secs);
        let fresh = seen.as_ref().is_some_and(|o| o.at.elapsed() < duration);
        if held_by_other && fresh {
            return Ok(false);
        }
        let mut next = spec.clone();
        if holder != self.identity {
            next.acquire_time = Some(now());
            next.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        next.holder_identity = Some(self.identity.clone());
        next.lease_duration_seconds = Some(secs);
        next.renew_time = Some(now());
        lease.spec = Some(next);
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits until this candidate holds the Lease, then keeps renewing it in the background.
    pub async fn acquire(self) -> Leadership {
        let mut seen = None;
        loop {
            match self.try_acquire_or_renew(&mut seen).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(lease = %self.name, error = %e, "leader election: lease not readable")
                }
            }
            let jitter = self.timing.retry_period.mul_f64(fastrand::f64() * 0.2);
            tokio::time::sleep(self.timing.retry_period + jitter).await;
        }
        tracing::info!(lease = %self.name, identity = %self.identity, "became leader");
        let (tx, lost) = watch::channel(false);
        let stop = Arc::new(AtomicBool::new(false));
        let renewer = self.clone();
        let stop_flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut seen = None;
            let mut last_renew = Instant::now();
            loop {
                tokio::time::sleep(renewer.timing.retry_period).await;
                if stop_flag.load(Ordering::SeqCst) {
                    return;
                }
                match renewer.try_acquire_or_renew(&mut seen).await {
                    Ok(true) => last_renew = Instant::now(),
                    Ok(false) => {
                        tracing::error!(lease = %renewer.name, "leader election: lease taken by another candidate");
                        let _ = tx.send(true);
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(lease = %renewer.name, error = %e, "leader election: renew failed")
                    }
                }
                if last_renew.elapsed() >= renewer.timing.renew_deadline {
                    tracing::error!(lease = %renewer.name, "leader election: renew deadline passed");
                    let _ = tx.send(true);
                    return;
                }
            }
        });
        Leadership {
            lost,
            stop,
            task,
            api: self.api,
            name: self.name,
            identity: self.identity,
        }
    }
}

impl Leadership {
    /// Resolves when leadership is lost (the process must stop reconciling).
    pub async fn lost(&mut self) {
        while !*self.lost.borrow() {
            if self.lost.changed().await.is_err() {
                // The renewer stopped without losing: only on release.
                futures::future::pending::<()>().await;
            }
        }
    }

    /// Stops renewing and hands the Lease back (empty holder), so a standby takes over at once.
    pub async fn release(self) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        self.task.abort();
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now());
        lease.spec = Some(spec);
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                tracing::info!(lease = %self.name, "leadership released");
                Ok(())
            }
            Err(e) if is_conflict(&e) || is_not_found(&e) => Ok(()),
            Err(e) => Err(Error::Kube(e)),
        }
    }
}
