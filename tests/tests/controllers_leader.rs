//! Leader election: of two `ironcore-controller-manager` replicas with `--leader-elect`, exactly
//! one holds the Lease and reconciles; when it dies the other takes over after the lease
//! duration, and a leader that stops gracefully hands the Lease over at once. The Lease is held
//! by a stand-in for the cluster's kube-apiserver (`--leader-election-kubeconfig`).

mod controllers_support;

use std::time::Duration;

use controllers_support::eventually;
use controllers_support::lease_server::LeaseServer;
use ironcore_api::networking;
use ironcore_e2e::{Backend, ControllerProcess, ServerProcess};
use kube::{Api, ResourceExt};

const LEASE: &str = "d0ae00be.ironcore.dev";
const TIMEOUT: Duration = Duration::from_secs(20);

/// A replica with a 3 s lease (renewed every second, given up after 2 s without renewal).
fn replica(server: &ServerProcess, leases: &LeaseServer) -> ControllerProcess {
    replica_with_lease(server, leases, 3, 2)
}

fn replica_with_lease(
    server: &ServerProcess,
    leases: &LeaseServer,
    lease_seconds: u64,
    renew_deadline_seconds: u64,
) -> ControllerProcess {
    let args = [
        format!("--kubeconfig={}", server.kubeconfig().display()),
        "--leader-elect".to_owned(),
        format!(
            "--leader-election-kubeconfig={}",
            leases.kubeconfig.display()
        ),
        "--leader-election-namespace=ironcore-system".to_owned(),
        format!("--leader-election-lease-duration-seconds={lease_seconds}"),
        format!("--leader-election-renew-deadline-seconds={renew_deadline_seconds}"),
        "--leader-election-retry-period-seconds=1".to_owned(),
        "--backoff-base-ms=50".to_owned(),
    ];
    ControllerProcess::start("ironcore-controller-manager", &args)
}

fn leads(c: &ControllerProcess) -> bool {
    c.metrics().contains("\nleader_election_master_status 1\n")
}

async fn network_gets_finalizer(server: &ServerProcess, name: &str) {
    server.apply(&format!(
        "apiVersion: networking.ironcore.dev/v1alpha1\nkind: Network\nmetadata:\n  name: {name}\n"
    ));
    let nets: Api<networking::Network> = Api::namespaced(server.client().await, "default");
    eventually(TIMEOUT, &format!("{name} protected"), || {
        let nets = nets.clone();
        async move {
            let n = nets.get(name).await.ok()?;
            n.finalizers()
                .iter()
                .any(|f| f == "networking.ironcore.dev/network")
                .then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_a_standby_takes_over_when_it_dies() {
    let dir = tempfile::tempdir().unwrap();
    let leases = LeaseServer::start(dir.path()).await;
    let server = ServerProcess::start("ironcore-apiserver", Backend::Embedded, &[]);
    let mut a = Some(replica(&server, &leases));
    let b = replica(&server, &leases);
    eventually(TIMEOUT, "a leader", || async {
        leases.holder("ironcore-system", LEASE).map(|_| ())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let a_leads = leads(a.as_ref().unwrap());
    assert_ne!(a_leads, leads(&b), "exactly one replica leads");
    network_gets_finalizer(&server, "first").await;

    // Only the leader reconciled.
    let (leader, standby) = if a_leads {
        (a.as_ref().unwrap(), &b)
    } else {
        (&b, a.as_ref().unwrap())
    };
    assert!(leader.metrics().contains("controller_reconcile_total{"));
    assert!(!standby.metrics().contains("controller_reconcile_total{"));

    // The leader dies without releasing: the standby waits out the lease, then leads.
    let holder = leases.holder("ironcore-system", LEASE).unwrap();
    let survivor = if a_leads {
        drop(a.take());
        &b
    } else {
        drop(b);
        a.as_ref().unwrap()
    };
    eventually(TIMEOUT, "the standby leads", || async {
        (leads(survivor) && leases.holder("ironcore-system", LEASE).as_ref() != Some(&holder))
            .then_some(())
    })
    .await;
    network_gets_finalizer(&server, "second").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_stops_gracefully_hands_the_lease_over() {
    let dir = tempfile::tempdir().unwrap();
    let leases = LeaseServer::start(dir.path()).await;
    let server = ServerProcess::start("ironcore-apiserver", Backend::Embedded, &[]);
    // A lease long enough that taking over "at once" cannot be waiting it out.
    let mut first = replica_with_lease(&server, &leases, 30, 20);
    eventually(TIMEOUT, "the first replica leads", || async {
        leads(&first).then_some(())
    })
    .await;
    first.terminate();
    eventually(TIMEOUT, "the lease released", || async {
        leases
            .holder("ironcore-system", LEASE)
            .is_none()
            .then_some(())
    })
    .await;
    let second = replica_with_lease(&server, &leases, 30, 20);
    eventually(
        Duration::from_secs(10),
        "the second replica leads at once",
        || async { leads(&second).then_some(()) },
    )
    .await;
}
