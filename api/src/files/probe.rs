//! Uploads are probed in a child process of their own.
//!
//! symphonia parses whatever bytes a visitor sends, and the release build
//! aborts on a panic: one crafted file found in the parser would end the
//! replica with every socket and request on it. So the API runs
//! `spotik-api probe-file <path>` (the same binary; `main` answers it before
//! anything else starts) with limits on its address space, CPU time, files
//! and wall time, and reads back one line (`spotik_probe::verdict`). A child
//! that dies, overruns or prints anything else means "not audio". At most
//! `PROBE_CONCURRENCY` children run at once; further uploads wait their turn.
//!
//! Cost (loadtest/RESULTS.md, "Issue 19"): one fork and exec of the
//! binary per upload, about 2 ms (release build, this machine), beside the
//! demux of the whole file, which grows with its length.

use crate::config::ProbeConfig;
use spotik_probe::{Audio, Rejected};
use std::path::Path;
use std::process::Stdio;
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

/// The subcommand `main` answers with [`run_child`].
pub const SUBCOMMAND: &str = "probe-file";

/// `PROBE_PROGRAM=inline`: probe in this process (tests that embed the
/// API in another binary, which cannot answer `probe-file`). Not for
/// production: it gives up the isolation this module is for.
pub const INLINE: &str = "inline";

/// Largest verdict line read back from a child.
const MAX_VERDICT_BYTES: u64 = 512;

/// Runs probes in children, at most `concurrency` at once.
pub struct Prober {
    config: ProbeConfig,
    running: Semaphore,
}

impl Prober {
    pub fn new(config: ProbeConfig) -> Self {
        let running = Semaphore::new(config.concurrency.max(1));
        Self { config, running }
    }

    /// What the file at `path` is, decided in a limited child process.
    pub async fn probe(&self, path: &Path) -> Result<Audio, Rejected> {
        let unreadable = || Rejected("The file could not be read as audio.".into());
        let _turn = self.running.acquire().await.map_err(|_| unreadable())?;
        if self.config.program.as_os_str() == INLINE {
            // For embedding the API in another program's tests: no child,
            // no limits, a panic caught only where panics unwind.
            let path = path.to_owned();
            return tokio::task::spawn_blocking(move || spotik_probe::probe(&path))
                .await
                .unwrap_or_else(|_| Err(unreadable()));
        }
        let mut command = tokio::process::Command::new(&self.config.program);
        command
            .arg(SUBCOMMAND)
            .arg(path)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let limits = self.config.clone();
        // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
        unsafe {
            command.pre_exec(move || limit_child(&limits));
        }
        let mut child = command.spawn().map_err(|error| {
            tracing::error!(%error, program = %self.config.program.display(), "cannot start the probe");
            unreadable()
        })?;
        let stdout = child.stdout.take().ok_or_else(unreadable)?;
        let waited = tokio::time::timeout(self.config.timeout, async {
            let mut output = String::new();
            let read = stdout.take(MAX_VERDICT_BYTES).read_to_string(&mut output).await;
            // Closed here: a child that goes on writing ends on SIGPIPE.
            let status = child.wait().await;
            (read, status, output)
        })
        .await;
        match waited {
            Ok((Ok(_), Ok(status), output)) if status.success() => {
                spotik_probe::verdict::decode(&output).unwrap_or_else(|| Err(unreadable()))
            }
            Ok((_, status, _)) => {
                tracing::warn!(?status, file = %path.display(), "the probe of an upload failed");
                Err(unreadable())
            }
            Err(_) => {
                // kill_on_drop ends it; tokio reaps it in the background.
                tracing::warn!(file = %path.display(), "the probe of an upload ran out of time");
                Err(unreadable())
            }
        }
    }
}

fn limit_child(limits: &ProbeConfig) -> std::io::Result<()> {
    let set = |resource, value: u64| {
        let limit = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: a plain system call on a value of ours.
        match unsafe { libc::setrlimit(resource, &limit) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    };
    set(libc::RLIMIT_AS, limits.memory_bytes)?;
    set(libc::RLIMIT_CPU, limits.cpu_secs)?;
    // It reads one file and writes one line: no files to create, few to open.
    set(libc::RLIMIT_FSIZE, 0)?;
    set(libc::RLIMIT_NOFILE, 16)?;
    set(libc::RLIMIT_CORE, 0)
}

/// The child's side: probe `path` and print the verdict. Runs before any
/// runtime, logging or configuration, so that it costs little and touches
/// nothing else.
pub fn run_child(path: &Path) -> std::process::ExitCode {
    use std::io::Write;
    let verdict = spotik_probe::verdict::encode(&spotik_probe::probe(path));
    match std::io::stdout().write_all(verdict.as_bytes()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(_) => std::process::ExitCode::FAILURE,
    }
}
