//! The host figures both health checks report, and the performance plan's
//! alert thresholds on them. Every function here reads files or calls
//! `statvfs`, which can block (a hung network mount): callers run them off
//! their async workers.

use std::path::Path;

/// Memory in use above this share of the host's raises an alert.
pub const MEMORY_ALERT_PERCENT: f64 = 80.0;
/// Disk in use above this share of the media's file system raises an alert.
pub const DISK_ALERT_PERCENT: f64 = 85.0;
/// A health check slower than this raises an alert.
pub const SLOW_CHECK_MS: f64 = 5000.0;

/// What the host looks like now.
#[derive(Clone, Copy, Debug, Default)]
pub struct System {
    pub memory_used_percent: Option<f64>,
    pub disk_used_percent: Option<f64>,
    pub load_average: Option<f64>,
}

impl System {
    /// Reads `/proc` and the file system holding `path` (blocking).
    pub fn read(path: &Path) -> Self {
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok());
        Self {
            memory_used_percent: memory_used_percent(),
            disk_used_percent: disk_used_percent(path),
            load_average,
        }
    }

    /// The alerts these figures raise, as (level, message).
    pub fn alerts(&self) -> Vec<(&'static str, String)> {
        let mut alerts = Vec::new();
        if self.memory_used_percent.is_some_and(|m| m > MEMORY_ALERT_PERCENT) {
            alerts.push(("warning", format!("memory use above {MEMORY_ALERT_PERCENT} %")));
        }
        if self.disk_used_percent.is_some_and(|d| d > DISK_ALERT_PERCENT) {
            alerts.push(("warning", format!("disk use above {DISK_ALERT_PERCENT} %")));
        }
        alerts
    }
}

/// The alert a check that took `ms` raises, if any.
pub fn slow_check_alert(name: &str, ms: f64) -> Option<(&'static str, String)> {
    (ms > SLOW_CHECK_MS).then(|| {
        (
            "warning",
            format!("{name} responded in more than {} s", SLOW_CHECK_MS / 1000.0),
        )
    })
}

fn memory_used_percent() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<f64> {
        info.lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let (total, available) = (field("MemTotal:")?, field("MemAvailable:")?);
    Some(((total - available) / total * 1000.0).round() / 10.0)
}

/// Used share of the file system holding `path`: one `statvfs` call (no
/// subprocess on the request path).
fn disk_used_percent(path: &Path) -> Option<f64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a zeroed struct statvfs fills.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 || stats.f_blocks == 0 {
        return None;
    }
    let used = stats.f_blocks.saturating_sub(stats.f_bfree) as f64;
    let usable = used + stats.f_bavail as f64;
    Some((used / usable * 100.0).round())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thresholds_raise_alerts_and_nothing_else_does() {
        let calm = System {
            memory_used_percent: Some(80.0),
            disk_used_percent: Some(85.0),
            load_average: Some(9.0),
        };
        assert!(calm.alerts().is_empty());
        let full = System {
            memory_used_percent: Some(80.5),
            disk_used_percent: Some(90.0),
            ..calm
        };
        assert_eq!(full.alerts().len(), 2);
        assert!(slow_check_alert("database", 5000.0).is_none());
        assert!(slow_check_alert("database", 5001.0).is_some());
    }

    #[test]
    fn this_host_can_be_read() {
        let system = System::read(Path::new("/"));
        assert!(system.memory_used_percent.is_some_and(|m| (0.0..=100.0).contains(&m)));
        assert!(system.disk_used_percent.is_some());
    }
}
