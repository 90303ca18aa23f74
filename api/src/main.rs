use spotik_api::cli::{self, Task};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    spotik_shared::telemetry::init_with("info,sqlx=warn", Some(spotik_api::db_stats::layer()));
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
