use clap::Parser;
use spotik_edge::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    spotik_shared::telemetry::init("info");
    let config = Config::parse();
    // One worker needs no work stealing: a current-thread scheduler does the
    // same job with less synchronisation per task wake-up.
    let mut runtime = match config.workers {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(workers) => {
            let mut runtime = tokio::runtime::Builder::new_multi_thread();
            runtime.worker_threads(workers.max(1));
            runtime
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("spotik-edge: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("spotik-edge: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.listen)))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        root = %config.root.display(),
        io = ?config.io,
        signed = config.signing_secret.is_some(),
        "spotik-edge serving"
    );
    spotik_edge::run(config, listener, spotik_shared::shutdown::signal()).await
}
