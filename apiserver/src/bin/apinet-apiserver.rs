//! `apinet-apiserver`: serves `core.apinet.ironcore.dev/v1alpha1` with VNI, public IP and
//! IP-claim allocation.

use anyhow::Context;
use clap::Parser;
use ironcore_api::common::IPPrefix;
use ironcore_apiservers::apinet::{
    AllocationConfig, DEFAULT_MAX_VNI, DEFAULT_MIN_VNI, DEFAULT_PREFIX, registry,
};
use ironcore_apiservers::cli::{ServerFlags, init_logging, run};

/// The apinet API server (core.apinet.ironcore.dev/v1alpha1): VNIs, public IPs and IP claims
/// are allocated atomically with the objects that claim them.
#[derive(Parser, Debug)]
#[command(name = "apinet-apiserver", version)]
struct Cli {
    #[command(flatten)]
    server: ServerFlags,
    /// Smallest VNI handed out to Networks (a requested spec.id must lie in the range too).
    #[arg(long, default_value_t = DEFAULT_MIN_VNI)]
    min_vni: u32,
    /// Largest VNI handed out to Networks (at most 16777215, VNIs are 24-bit).
    #[arg(long, default_value_t = DEFAULT_MAX_VNI)]
    max_vni: u32,
    /// Public prefix IPs are allocated from (CIDR; repeatable or comma-separated; IPv4 and
    /// IPv6; per family the prefixes are tried in flag order). Without one of a family, IPs of
    /// that family cannot be allocated.
    #[arg(long = "public-prefix", value_name = "CIDR", value_delimiter = ',')]
    public_prefixes: Vec<IPPrefix>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let cli = Cli::parse();
    let config = AllocationConfig::new(cli.min_vni, cli.max_vni, cli.public_prefixes)
        .context("invalid allocation flags")?;
    tracing::info!(
        min_vni = config.vnis.min(),
        max_vni = config.vnis.max(),
        public_prefixes = ?config.public_prefixes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "allocation ranges"
    );
    run(cli.server, registry(&config), DEFAULT_PREFIX).await
}
