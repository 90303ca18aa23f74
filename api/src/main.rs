use spotik_api::cli::{self, Task};
use std::process::ExitCode;

fn main() -> ExitCode {
    // An upload's probe, in a child of the server (`spotik_api::files::probe`):
    // nothing else of the server starts.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == spotik_api::files::probe::SUBCOMMAND) {
        return match args.next() {
            Some(path) => spotik_api::files::probe::run_child(std::path::Path::new(&path)),
            None => ExitCode::FAILURE,
        };
    }
    spotik_api::telemetry::memory::return_large_blocks();
    spotik_api::http::acceptor::raise_descriptor_limit();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(serve()),
        Err(error) => {
            eprintln!("spotik-api: cannot start the runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    // The document needs no configuration, database or Redis.
    if std::env::args().nth(1).as_deref() == Some("openapi") {
        let document = spotik_api::http::openapi::document(&spotik_api::router());
        return match document.to_pretty_json() {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("spotik-api: the OpenAPI document cannot be written: {error}");
                ExitCode::FAILURE
            }
        };
    }
    spotik_shared::telemetry::init_with("info,sqlx=warn", Some(spotik_api::telemetry::db_stats::layer()));
    let (task, config) = match cli::parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
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
    let listen = config.listen;
    let state = match spotik_api::connect(config).await {
        Ok(state) => state,
        Err(error) => {
            eprintln!("spotik-api: {error}");
            return ExitCode::FAILURE;
        }
    };
    match task {
        Task::Migrate => {
            tracing::info!("migrations applied");
            ExitCode::SUCCESS
        }
        Task::Seed => match spotik_api::seed::seed(&state).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("spotik-api: seeding failed: {error}");
                ExitCode::FAILURE
            }
        },
        Task::Serve => {
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
