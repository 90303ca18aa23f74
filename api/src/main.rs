use spotik_api::Config;
use std::process::ExitCode;

const USAGE: &str = "usage: spotik-api [serve [--listen ADDR] | migrate | seed]\n\
configuration comes from the environment (API_LISTEN, DATABASE_URL, REDIS_URL, JWT_SECRET, MEDIA_ROOT, ...)";

#[tokio::main]
async fn main() -> ExitCode {
    spotik_shared::telemetry::init("info,sqlx=warn");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("spotik-api: {error}");
            return ExitCode::FAILURE;
        }
    };
    let command = args.first().map(String::as_str).unwrap_or("serve");
    if let Some(i) = args.iter().position(|a| a == "--listen") {
        match args.get(i + 1).and_then(|a| a.parse().ok()) {
            Some(listen) => config.listen = listen,
            None => {
                eprintln!("spotik-api: --listen needs an address like 127.0.0.1:8000\n{USAGE}");
                return ExitCode::FAILURE;
            }
        }
    }
    if !matches!(command, "serve" | "migrate" | "seed" | "--listen") {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    }
    let listen = config.listen;
    let state = match spotik_api::connect(config).await {
        Ok(state) => state,
        Err(error) => {
            eprintln!("spotik-api: {error}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        "migrate" => {
            tracing::info!("migrations applied");
            ExitCode::SUCCESS
        }
        "seed" => match spotik_api::seed::seed(&state).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("spotik-api: seeding failed: {error}");
                ExitCode::FAILURE
            }
        },
        _ => {
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
