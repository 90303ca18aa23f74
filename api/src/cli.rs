//! The command line: `spotik-api [serve|migrate|seed|openapi] [--flag value …]`.
//!
//! Every setting is an environment variable (the twelve-factor way the
//! deployments use) and, for a person at a terminal, a flag of the same name
//! in lower case with dashes (`DATABASE_URL` → `--database-url`; `API_LISTEN`
//! is `--listen`). A flag wins over the environment. `--help` lists them all.

use crate::config::settings::SETTINGS;
use crate::config::{Config, ConfigError};
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::ffi::OsString;
use std::path::PathBuf;

/// What the process is asked to do.
#[derive(Debug)]
pub enum Task {
    /// Apply migrations with this configuration, then do the job.
    Run(Job, Box<Config>),
    /// Print the OpenAPI document and exit: no configuration, database or Redis.
    Openapi,
    /// Probe an upload, as the server's limited child (`files::probe`):
    /// nothing else of the server starts.
    ProbeFile(PathBuf),
}

/// What follows the migrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Serve (the default).
    Serve,
    /// Exit.
    Migrate,
    /// Add the demo data if absent, and exit.
    Seed,
}

/// `API_LISTEN` → `listen`, `DATABASE_URL` → `database-url`. Leaked: clap
/// keeps `'static` names, and the command is built once per process.
fn flag(variable: &str) -> &'static str {
    match variable {
        "API_LISTEN" => "listen",
        other => Box::leak(other.to_ascii_lowercase().replace('_', "-").into_boxed_str()),
    }
}

fn command() -> Command {
    let mut command = Command::new("spotik-api")
        .about("Spotik's REST API, WebSocket hub and background work, over PostgreSQL and Redis")
        .after_help(
            "Every flag can be given as the environment variable shown instead; a flag wins. \
             Give secrets in the environment: other users can read a process's flags.",
        )
        .subcommand(Command::new("serve").about("Apply migrations, then serve (the default)"))
        .subcommand(Command::new("migrate").about("Apply migrations and exit"))
        .subcommand(Command::new("seed").about("Apply migrations, add the demo data if absent, and exit"))
        .subcommand(
            Command::new("openapi")
                .about("Print the REST API's OpenAPI document (as served at /api/openapi.json) and exit"),
        )
        .subcommand(
            Command::new(crate::files::probe::SUBCOMMAND).hide(true).arg(
                Arg::new("path")
                    .required(true)
                    .value_parser(clap::value_parser!(PathBuf)),
            ),
        );
    for setting in SETTINGS {
        // Leaked like the flag's name: built once per process.
        let help: &'static str =
            Box::leak(format!("{} [default: {}]", setting.help, setting.default.text()).into_boxed_str());
        command = command.arg(
            Arg::new(setting.name)
                .long(flag(setting.name))
                .env(setting.name)
                // Secrets live in the environment: never echo them in --help.
                .hide_env_values(true)
                .value_name("VALUE")
                .help(help)
                .action(ArgAction::Set)
                .global(true),
        );
    }
    command
}

/// Parses `args` (without the program name) and, for the tasks that need a
/// configuration, the environment.
pub fn parse<T: Into<OsString>>(args: impl IntoIterator<Item = T>) -> Result<Task, String> {
    let matches = command()
        .try_get_matches_from(std::iter::once(OsString::from("spotik-api")).chain(args.into_iter().map(Into::into)))
        .map_err(|error| error.render().to_string())?;
    let job = match matches.subcommand() {
        Some(("openapi", _)) => return Ok(Task::Openapi),
        Some((name, sub)) if name == crate::files::probe::SUBCOMMAND => {
            return Ok(Task::ProbeFile(
                sub.get_one::<PathBuf>("path").cloned().unwrap_or_default(),
            ));
        }
        Some(("migrate", _)) => Job::Migrate,
        Some(("seed", _)) => Job::Seed,
        _ => Job::Serve,
    };
    let config = configure(&matches).map_err(|error| format!("spotik-api: {error}"))?;
    Ok(Task::Run(job, Box::new(config)))
}

fn configure(matches: &ArgMatches) -> Result<Config, ConfigError> {
    // Subcommands see the global flags in their own matches.
    let scope = matches.subcommand().map_or(matches, |(_, sub)| sub);
    // A variable without a flag (the test below keeps that from happening)
    // still comes from the environment rather than stopping the process.
    Config::from_lookup(|name| match scope.try_get_one::<String>(name) {
        Ok(value) => value.cloned(),
        Err(_) => std::env::var(name).ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_command_line_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn flags_set_what_the_environment_would() {
        let Ok(Task::Run(Job::Serve, config)) =
            parse(args(&["--listen", "127.0.0.1:9999", "--upload-max-bytes", "1024"]))
        else {
            panic!("no flags or subcommand: serve");
        };
        assert_eq!(config.listen.to_string(), "127.0.0.1:9999");
        assert_eq!(config.upload_max_bytes, 1024);
        let Ok(Task::Run(Job::Migrate, config)) =
            parse(args(&["migrate", "--database-url", "postgres://x@127.0.0.1/y"]))
        else {
            panic!("migrate");
        };
        assert_eq!(config.database_url, "postgres://x@127.0.0.1/y");
        assert!(matches!(parse(args(&["seed"])), Ok(Task::Run(Job::Seed, _))));
    }

    /// The tasks without a configuration never read one: a setting the
    /// server would refuse does not stop them.
    #[test]
    fn the_document_and_the_probe_need_no_configuration() {
        assert!(matches!(
            parse(args(&["openapi", "--listen", "nowhere"])),
            Ok(Task::Openapi)
        ));
        let Ok(Task::ProbeFile(path)) = parse(args(&["probe-file", "/tmp/x.part", "--listen", "nowhere"])) else {
            panic!("probe-file");
        };
        assert_eq!(path, PathBuf::from("/tmp/x.part"));
        assert!(parse(args(&["probe-file"])).is_err(), "the probe needs its file");
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let error = parse(args(&["--listen", "nowhere"])).unwrap_err();
        assert!(error.contains("API_LISTEN"), "{error}");
        let error = parse(args(&["--no-such-flag", "1"])).unwrap_err();
        assert!(error.contains("--no-such-flag"), "{error}");
        let error = parse(args(&["launch"])).unwrap_err();
        assert!(error.contains("launch"), "{error}");
    }

    /// The settings table of the reference a user reads
    /// (docs/configuration.md), as the declarations give it.
    fn reference_table() -> String {
        let mut table = String::from("| variable | default | what it sets |\n| --- | --- | --- |\n");
        for setting in SETTINGS {
            let flag = match flag(setting.name) {
                "listen" => " (`--listen`)".to_owned(),
                _ => String::new(),
            };
            // A value as code; "none" and a description as words.
            let default = match setting.default {
                crate::config::settings::Fallback::Value(value) if !value.is_empty() => format!("`{value}`"),
                ref other => other.text().to_owned(),
            };
            table.push_str(&format!(
                "| `{}`{flag} | {default} | {} |\n",
                setting.name, setting.help
            ));
        }
        table
    }

    /// docs/configuration.md holds exactly the declared settings, defaults
    /// and help (and `--help` prints them from the same declarations).
    /// `SPOTIK_BLESS=1` rewrites the table after a setting changes.
    #[test]
    fn the_configuration_reference_is_the_declared_settings() {
        const BEGIN: &str = "<!-- settings: generated from api/src/config/settings.rs -->\n";
        const END: &str = "<!-- settings end -->";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
        let reference = std::fs::read_to_string(path).unwrap_or_default();
        let (Some(begin), Some(end)) = (reference.find(BEGIN), reference.find(END)) else {
            panic!("docs/configuration.md lacks the settings markers");
        };
        let written = &reference[begin + BEGIN.len()..end];
        let declared = reference_table();
        if written != declared && std::env::var_os("SPOTIK_BLESS").is_some() {
            let updated = format!("{}{declared}{}", &reference[..begin + BEGIN.len()], &reference[end..]);
            std::fs::write(path, updated).unwrap_or_default();
            return;
        }
        assert!(
            written == declared,
            "docs/configuration.md's settings differ from the declarations; \
             run `SPOTIK_BLESS=1 cargo test -p spotik-api --lib configuration_reference`"
        );
        let help = command().render_long_help().to_string();
        for setting in SETTINGS {
            assert!(
                help.contains(&format!("[default: {}]", setting.default.text())),
                "--help lacks {}'s default",
                setting.name
            );
        }
    }

    #[test]
    fn every_setting_the_configuration_reads_has_a_flag() {
        let source = include_str!("config/mod.rs");
        let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let mut rest = source;
        while let Some(at) = rest.find('"') {
            rest = &rest[at + 1..];
            let Some(end) = rest.find('"') else { break };
            let word = &rest[..end];
            rest = &rest[end + 1..];
            let is_variable = word.len() > 3
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && word.contains('_');
            if is_variable {
                assert!(known.contains(&word), "{word} has no flag");
            }
        }
    }
}
