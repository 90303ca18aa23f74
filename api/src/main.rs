use spotik_api::cli::{self, Job, Task};
use std::process::ExitCode;

fn main() -> ExitCode {
    let task = match cli::parse(std::env::args_os().skip(1)) {
        Ok(task) => task,
        Err(message) => {
            // --help and --version come this way too, on standard output.
            let help = message.starts_with("Spotik") || message.starts_with("Usage");
            if help {
                print!("{message}");
                return ExitCode::SUCCESS;
            }
            eprint!("{message}");
            if !message.ends_with('\n') {
                eprintln!();
            }
            return ExitCode::FAILURE;
        }
    };
    let (job, config) = match task {
        // An upload's probe, in a child of the server: nothing else starts.
        Task::ProbeFile(path) => return spotik_api::files::probe::run_child(&path),
        Task::Openapi => return print_openapi(),
        Task::Run(job, config) => (job, config),
    };
    spotik_api::telemetry::memory::return_large_blocks();
    spotik_api::http::acceptor::raise_descriptor_limit();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run(job, *config)),
        Err(error) => {
            eprintln!("spotik-api: cannot start the runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(job: Job, config: spotik_api::config::Config) -> ExitCode {
    spotik_shared::telemetry::init_with("info,sqlx=warn", Some(spotik_api::telemetry::db_stats::layer()));
    let listen = config.listen;
    let state = match spotik_api::connect(config).await {
        Ok(state) => state,
        Err(error) => {
            eprintln!("spotik-api: {error}");
            return ExitCode::FAILURE;
        }
    };
    match job {
        Job::Migrate => {
            tracing::info!("migrations applied");
            ExitCode::SUCCESS
        }
        Job::Seed => match spotik_api::seed::seed(&state).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("spotik-api: seeding failed: {error}");
                ExitCode::FAILURE
            }
        },
        Job::Serve => {
            let listener = match tokio::net::TcpListener::bind(listen).await {
                Ok(listener) => listener,
                Err(error) => {
                    eprintln!("spotik-api: cannot listen on {listen} (API_LISTEN): {error}");
                    return ExitCode::FAILURE;
                }
            };
            tracing::info!(%listen, "spotik-api serving");
            match spotik_api::run(state, listener, spotik_shared::shutdown::signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("spotik-api: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The document needs no configuration, database or Redis.
fn print_openapi() -> ExitCode {
    let document = spotik_api::http::openapi::document(&spotik_api::router());
    match document.to_pretty_json() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("spotik-api: the OpenAPI document cannot be written: {error}");
            ExitCode::FAILURE
        }
    }
}
