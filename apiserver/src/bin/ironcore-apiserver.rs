//! `ironcore-apiserver`: serves `networking.ironcore.dev/v1alpha1`.

use clap::Parser;
use ironcore_apiservers::cli::{ServerFlags, init_logging, run};
use ironcore_apiservers::networking::{DEFAULT_PREFIX, registry};

/// The IronCore networking API server (networking.ironcore.dev/v1alpha1).
#[derive(Parser, Debug)]
#[command(name = "ironcore-apiserver", version, about)]
struct Cli {
    #[command(flatten)]
    server: ServerFlags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let cli = Cli::parse();
    run(cli.server, registry(), DEFAULT_PREFIX).await
}
