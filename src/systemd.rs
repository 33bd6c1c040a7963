//! systemd integration: readiness, status, watchdog and stop notifications,
//! and socket activation. Outside systemd every part of it is a no-op.
//!
//! Owns the `sd_notify(3)` protocol (newline-separated `KEY=value` lines in
//! one datagram to `$NOTIFY_SOCKET`), the watchdog settings
//! (`WATCHDOG_USEC`, `WATCHDOG_PID`) and the socket-activation handover
//! (`LISTEN_PID`, `LISTEN_FDS`, fd 3). It knows nothing about the store or
//! the scheduler: `health` decides what "healthy" means (the same snapshot
//! `/healthz` reports) and `app` hands that check to [`supervise`], which
//! turns it into `WATCHDOG=1` and `STATUS=` messages.
//!
//! # Reading the environment once
//! [`Notifier::from_env`], [`watchdog_interval`] and [`listen_fds`] read the
//! environment; the daemon calls them once at startup and passes the results
//! down, like the rest of the configuration. Tests build a [`Notifier`] with
//! [`Notifier::new`] and an explicit socket path instead, so parallel tests
//! never touch process-global state.
//!
//! # Why the notify socket is ours and not `sd_notify::notify`
//! `sd-notify` 0.5 reads `NOTIFY_SOCKET` on every call (so a test could only
//! aim it at its own socket by mutating the process environment, which races
//! with every other test thread) and passes the value to `connect` as a file
//! path, so an abstract-namespace address (`@name`, used by some container
//! managers and test harnesses) fails. The protocol itself is one datagram,
//! so we send it with std's `UnixDatagram`. The crate still supplies the
//! message vocabulary ([`NotifyState`]) and the `CLOCK_MONOTONIC` reading
//! that `RELOADING=1` needs, which std does not expose.
//!
//! # Invariants
//! - A `STATUS=` text never contains a newline: one would start a new
//!   assignment in the datagram (a feed title could otherwise send
//!   `READY=1`).
//! - `WATCHDOG=1` is sent only after a health check passed. A wedged
//!   scheduler or a database that stopped answering therefore lets the
//!   watchdog expire, and systemd restarts the service.
//! - The socket systemd passes is adopted at most once per process.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// The first file descriptor systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// How often [`supervise`] refreshes `STATUS=` when systemd set no
/// watchdog.
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// How long one notification may wait for room in the manager's socket
/// buffer. systemd drains it quickly; this only bounds how long a busy
/// manager can hold up the task that sends.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Set once the socket from systemd has been wrapped in a `TcpListener`,
/// so a second [`listen_fds`] call cannot create a second owner of fd 3.
static LISTENER_TAKEN: AtomicBool = AtomicBool::new(false);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("failed to create a socket to notify systemd")]
    Socket(#[source] io::Error),
    #[error("failed to send {message:?} to systemd at {socket}")]
    Send {
        socket: String,
        message: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to read the monotonic clock for RELOADING=1")]
    Clock(#[source] io::Error),
    #[error(
        "NOTIFY_SOCKET={0:?} is neither a socket path nor an abstract name (@name); tickerfeed supports only those"
    )]
    Unsupported(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("LISTEN_PID={0:?} is not a process id")]
    BadPid(String),
    #[error("LISTEN_FDS={0:?} is not a count of file descriptors")]
    BadCount(String),
    #[error(
        "systemd passed {0} sockets; tickerfeed listens on exactly one (use one ListenStream= in tickerfeed.socket)"
    )]
    TooMany(u32),
    #[error("the socket systemd passed was already taken by an earlier call")]
    AlreadyTaken,
    #[error("systemd said it passed a socket as fd 3, but fd 3 is {0}")]
    NotASocket(String),
    #[error("failed to check fd 3 through /proc/self/fd")]
    Inspect(#[source] io::Error),
    #[error("the socket systemd passed is not a TCP socket")]
    NotTcp(#[source] io::Error),
    #[error("failed to prepare the socket systemd passed ({step})")]
    Prepare {
        step: &'static str,
        #[source]
        source: io::Error,
    },
}

/// Where notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Path(PathBuf),
    /// An abstract-namespace name, without the leading `@`.
    Abstract(Vec<u8>),
    /// Something systemd may set that we cannot send to (such as
    /// `vsock:` addresses); reported on the first send.
    Unsupported(String),
}

/// Sends state changes to the service manager; does nothing when there is
/// none. Cheap to clone: it holds only the address, and opens a socket per
/// message as libsystemd does.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    target: Option<Target>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// The manager named by `$NOTIFY_SOCKET`, with the watchdog interval
    /// from [`watchdog_interval`]. Call once at startup.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty());
        Notifier::new(socket.map(PathBuf::from)).with_watchdog(watchdog_interval())
    }

    /// Notifies the manager listening on `socket`, an absolute path; `None`
    /// gives a notifier that does nothing. A leading `@` names an
    /// abstract-namespace socket, as in `$NOTIFY_SOCKET`.
    pub fn new(socket: Option<PathBuf>) -> Notifier {
        Notifier {
            target: socket.map(|p| parse_target(p.into_os_string())),
            watchdog: None,
        }
    }

    /// The same notifier, expecting a `WATCHDOG=1` at least every `every`
    /// (a zero interval counts as none).
    pub fn with_watchdog(mut self, every: Option<Duration>) -> Notifier {
        self.watchdog = every.filter(|d| !d.is_zero());
        self
    }

    /// Whether there is a manager to notify.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// The watchdog interval systemd enforces, if any.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog.filter(|_| self.is_enabled())
    }

    /// `READY=1`: startup finished, or a reload did.
    pub fn ready(&self) -> Result<(), NotifyError> {
        self.send(&[NotifyState::Ready])
    }

    /// `STATUS=`: one line for `systemctl status`. Newlines become spaces.
    pub fn status(&self, status: &str) -> Result<(), NotifyError> {
        self.send(&[NotifyState::Status(&crate::markup::one_line(status))])
    }

    /// `WATCHDOG=1`: we are alive. Send only after checking that we are.
    pub fn watchdog_ping(&self) -> Result<(), NotifyError> {
        self.send(&[NotifyState::Watchdog])
    }

    /// `STOPPING=1`: shutdown has begun; systemd shows the unit as
    /// deactivating while we drain.
    pub fn stopping(&self) -> Result<(), NotifyError> {
        self.send(&[NotifyState::Stopping])
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=`: a reload has begun. Follow it
    /// with [`Notifier::ready`] when the reload is over, whether it applied
    /// anything or not: until then systemd shows the unit as reloading.
    ///
    /// systemd 253 and later require the timestamp with `Type=notify-reload`
    /// and use it to match the reload to the request; older versions ignore
    /// it.
    pub fn reloading(&self) -> Result<(), NotifyError> {
        if !self.is_enabled() {
            return Ok(());
        }
        let now = NotifyState::monotonic_usec_now().map_err(NotifyError::Clock)?;
        self.send(&[NotifyState::Reloading, now])
    }

    /// One datagram with every state in `states`, in order.
    fn send(&self, states: &[NotifyState<'_>]) -> Result<(), NotifyError> {
        let Some(target) = &self.target else {
            return Ok(());
        };
        let mut message = String::new();
        for state in states {
            writeln!(message, "{state}").expect("writing to a String cannot fail");
        }
        let sock = UnixDatagram::unbound().map_err(NotifyError::Socket)?;
        sock.set_write_timeout(Some(SEND_TIMEOUT))
            .map_err(NotifyError::Socket)?;
        let sent = match target {
            Target::Path(path) => sock.send_to(message.as_bytes(), path),
            Target::Abstract(name) => send_abstract(&sock, message.as_bytes(), name),
            Target::Unsupported(raw) => return Err(NotifyError::Unsupported(raw.clone())),
        };
        let err = |source| NotifyError::Send {
            socket: describe(target),
            message: message.trim_end().to_string(),
            source,
        };
        match sent {
            Ok(n) if n == message.len() => Ok(()),
            Ok(_) => Err(err(io::Error::new(
                io::ErrorKind::WriteZero,
                "datagram truncated",
            ))),
            Err(e) => Err(err(e)),
        }
    }
}

fn parse_target(raw: OsString) -> Target {
    let bytes = raw.as_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        Target::Abstract(name.to_vec())
    } else if bytes.starts_with(b"/") {
        Target::Path(PathBuf::from(raw))
    } else {
        // systemd only ever sets an absolute path, an abstract name, or
        // (since v254, for VMs) a vsock: address.
        Target::Unsupported(raw.to_string_lossy().into_owned())
    }
}

fn describe(target: &Target) -> String {
    match target {
        Target::Path(p) => p.display().to_string(),
        Target::Abstract(name) => format!("@{}", String::from_utf8_lossy(name)),
        Target::Unsupported(raw) => raw.clone(),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(sock: &UnixDatagram, message: &[u8], name: &[u8]) -> io::Result<usize> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sock.send_to_addr(message, &addr)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_abstract(_sock: &UnixDatagram, _message: &[u8], _name: &[u8]) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract sockets exist only on Linux",
    ))
}

/// The watchdog interval systemd enforces (`WatchdogSec=`), when it applies
/// to this process. Ping at half of it.
pub fn watchdog_interval() -> Option<Duration> {
    parse_watchdog(
        std::env::var("WATCHDOG_USEC").ok().as_deref(),
        std::env::var("WATCHDOG_PID").ok().as_deref(),
        std::process::id(),
    )
}

/// `sd_watchdog_enabled(3)`: the interval counts when `WATCHDOG_PID` is
/// unset or names us (it is set for the main process; a child that
/// inherited the variables must not ping on its parent's behalf).
fn parse_watchdog(usec: Option<&str>, pid: Option<&str>, our_pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok()?;
    if let Some(pid) = pid {
        let pid: u32 = pid.trim().parse().ok()?;
        if pid != our_pid {
            return None;
        }
    }
    // 0 is invalid for libsystemd too; a zero interval would also make the
    // ping loop spin.
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// How many sockets systemd passed to this process: `None` when it passed
/// none or they are meant for another process (`LISTEN_PID` differs).
fn parse_activation(
    pid: Option<&str>,
    fds: Option<&str>,
    our_pid: u32,
) -> Result<Option<u32>, ActivationError> {
    let Some(pid) = pid else { return Ok(None) };
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| ActivationError::BadPid(pid.to_string()))?;
    if pid != our_pid {
        return Ok(None);
    }
    let Some(fds) = fds else { return Ok(None) };
    let count: u32 = fds
        .trim()
        .parse()
        .map_err(|_| ActivationError::BadCount(fds.to_string()))?;
    match count {
        0 => Ok(None),
        1 => Ok(Some(1)),
        n => Err(ActivationError::TooMany(n)),
    }
}

/// Socket activation: the listening socket systemd opened for us
/// (`tickerfeed.socket`), or `Ok(None)` when we were started without one
/// and should bind `[server] listen` ourselves.
///
/// The returned listener is non-blocking and close-on-exec, ready for
/// `tokio::net::TcpListener::from_std`. An error means systemd did pass
/// sockets but not in a form we can serve on; falling back to binding the
/// configured address would then fail anyway (systemd holds the port), so
/// the caller should stop with the error.
///
/// Call it once, early in `cli::main`, before the tokio runtime starts:
/// when the process has a single thread, it also removes `LISTEN_PID`, `LISTEN_FDS`
/// and `LISTEN_FDNAMES` from the environment so nothing we start inherits
/// them (see `unset_activation_env`).
pub fn listen_fds() -> Result<Option<TcpListener>, ActivationError> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let parsed = parse_activation(pid.as_deref(), fds.as_deref(), std::process::id());
    if pid.is_some() || fds.is_some() {
        unset_activation_env();
    }
    if parsed?.is_none() {
        return Ok(None);
    }
    if LISTENER_TAKEN.swap(true, Ordering::AcqRel) {
        return Err(ActivationError::AlreadyTaken);
    }
    // Check that fd 3 is open and is a socket before claiming it: a
    // hand-set LISTEN_PID/LISTEN_FDS must produce an error, not an owner
    // of a descriptor that does not exist.
    let what = match std::fs::read_link(format!("/proc/self/fd/{LISTEN_FDS_START}")) {
        Ok(what) => what,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ActivationError::NotASocket("not open".into()));
        }
        Err(e) => return Err(ActivationError::Inspect(e)),
    };
    if !what.as_os_str().as_bytes().starts_with(b"socket:") {
        return Err(ActivationError::NotASocket(what.display().to_string()));
    }
    // SAFETY: LISTEN_PID names this process and LISTEN_FDS counts one
    // descriptor, so systemd handed fd 3 to us and nothing else in the
    // process opened it (it was already open when we started, so no
    // `open` could have returned 3). We just saw it open, as a socket.
    // LISTENER_TAKEN guarantees this is the only place that wraps it, so
    // the listener below is its sole owner and the only one to close it.
    unsafe { adopt(LISTEN_FDS_START) }.map(Some)
}

/// Turns the inherited socket `fd` into a listener we can hand to tokio.
///
/// # Safety
/// `fd` must be an open socket that nothing else in the process owns: the
/// returned listener closes it when dropped.
unsafe fn adopt(fd: RawFd) -> Result<TcpListener, ActivationError> {
    // SAFETY: the caller guarantees `fd` is open and ours alone.
    let inherited = unsafe { TcpListener::from_raw_fd(fd) };
    // getsockname fails for a Unix socket: ListenStream=/run/... would be
    // a misconfigured tickerfeed.socket.
    inherited.local_addr().map_err(ActivationError::NotTcp)?;
    // systemd passes the socket without FD_CLOEXEC. std duplicates with
    // F_DUPFD_CLOEXEC (every descriptor std creates is close-on-exec), so
    // keeping the duplicate and closing the original gives a listener that
    // a child process can never inherit, without a libc call of our own.
    let listener = inherited
        .try_clone()
        .map_err(|source| ActivationError::Prepare {
            step: "setting close-on-exec",
            source,
        })?;
    drop(inherited);
    // tokio's from_std requires a non-blocking socket.
    listener
        .set_nonblocking(true)
        .map_err(|source| ActivationError::Prepare {
            step: "making it non-blocking",
            source,
        })?;
    Ok(listener)
}

/// Removes the socket-activation variables, but only while this process
/// has a single thread.
///
/// `std::env::remove_var` is unsafe because another thread could be reading
/// the environment (through libc's `getenv`, which Rust cannot lock) at the
/// same moment. With one thread there is no other thread, and none can
/// appear during the call, since only this thread could start one. The
/// count comes from `/proc/self/task`, so the guarantee holds wherever the
/// function is called from. With more threads (tests, or a call after the
/// runtime started) the variables stay, which is harmless: `LISTEN_PID`
/// names this process, so a child ignores them, and [`LISTENER_TAKEN`]
/// stops a second adoption here.
fn unset_activation_env() {
    if !single_threaded() {
        debug!("more than one thread running; leaving LISTEN_* in the environment");
        return;
    }
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: this process has exactly one thread (checked just above),
        // so nothing can read or write the environment concurrently.
        unsafe { std::env::remove_var(name) };
    }
}

fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| tasks.count() == 1)
        .unwrap_or(false)
}

/// Keeps systemd informed while the daemon runs: every half watchdog
/// interval (or every 30 s without a watchdog) it runs `check` and sends
/// `WATCHDOG=1` plus `STATUS=<line>` when it returns `Ok(line)`, or only
/// `STATUS=unhealthy: <why>` when it returns `Err(why)` or takes longer
/// than the interval. (A degraded daemon is pinged, and its line says
/// `degraded:`; "unhealthy" is kept for the faults systemd restarts us
/// for.) When `shutdown` is cancelled it sends `STOPPING=1` and returns.
/// Does nothing outside systemd.
///
/// `check` should prove the daemon does useful work (the scheduler's
/// heartbeat is fresh, the database answers), not merely that this task
/// runs: a skipped ping is how systemd learns to restart us.
pub async fn supervise<F, Fut>(notifier: Notifier, mut check: F, shutdown: CancellationToken)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<String, String>>,
{
    if !notifier.is_enabled() {
        return;
    }
    let watchdog = notifier.watchdog();
    let every = watchdog.map(|w| w / 2).unwrap_or(STATUS_EVERY);
    let mut ticks = tokio::time::interval(every);
    // After a stall, check once and carry on; a burst of catch-up pings
    // would hide how long we were stuck.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let health = tokio::select! {
            _ = shutdown.cancelled() => break,
            h = tokio::time::timeout(every, check()) => h
                .unwrap_or_else(|_| Err(format!("health check did not answer within {every:?}"))),
        };
        let sent = match &health {
            Ok(line) => {
                let status = crate::markup::one_line(line);
                let mut states = vec![NotifyState::Status(&status)];
                if watchdog.is_some() {
                    states.insert(0, NotifyState::Watchdog);
                }
                notifier.send(&states)
            }
            Err(why) => {
                warn!(reason = %why, "unhealthy; not pinging the systemd watchdog");
                notifier.status(&format!("unhealthy: {why}"))
            }
        };
        if let Err(e) = sent {
            warn!(error = %e, "could not notify systemd");
        }
    }
    if let Err(e) = notifier.send(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: letting in-flight polls finish"),
    ]) {
        warn!(error = %e, "could not tell systemd we are stopping");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u32 = 4242;

    #[test]
    fn watchdog_needs_a_positive_interval() {
        assert_eq!(
            parse_watchdog(Some("60000000"), None, US),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_watchdog(None, None, US), None);
        assert_eq!(parse_watchdog(Some("0"), None, US), None);
        assert_eq!(parse_watchdog(Some("-5"), None, US), None);
        assert_eq!(parse_watchdog(Some("60s"), None, US), None);
        assert_eq!(parse_watchdog(Some(""), None, US), None);
    }

    #[test]
    fn watchdog_pid_must_be_ours_when_set() {
        let ours = US.to_string();
        assert_eq!(
            parse_watchdog(Some("500000"), Some(&ours), US),
            Some(Duration::from_millis(500))
        );
        // Inherited from a parent that systemd supervises: not for us.
        assert_eq!(parse_watchdog(Some("500000"), Some("1"), US), None);
        assert_eq!(parse_watchdog(Some("500000"), Some("self"), US), None);
    }

    #[test]
    fn activation_only_for_our_pid() {
        let ours = US.to_string();
        assert_eq!(parse_activation(None, None, US).unwrap(), None);
        assert_eq!(parse_activation(None, Some("1"), US).unwrap(), None);
        assert_eq!(parse_activation(Some("1"), Some("1"), US).unwrap(), None);
        assert_eq!(parse_activation(Some(&ours), None, US).unwrap(), None);
        assert_eq!(parse_activation(Some(&ours), Some("0"), US).unwrap(), None);
        assert_eq!(
            parse_activation(Some(&ours), Some("1"), US).unwrap(),
            Some(1)
        );
    }

    #[test]
    fn activation_rejects_what_we_cannot_serve() {
        let ours = US.to_string();
        assert!(matches!(
            parse_activation(Some(&ours), Some("2"), US),
            Err(ActivationError::TooMany(2))
        ));
        assert!(matches!(
            parse_activation(Some("abc"), Some("1"), US),
            Err(ActivationError::BadPid(_))
        ));
        assert!(matches!(
            parse_activation(Some(&ours), Some("one"), US),
            Err(ActivationError::BadCount(_))
        ));
    }

    #[test]
    fn notify_socket_forms() {
        assert_eq!(
            parse_target("/run/systemd/notify".into()),
            Target::Path("/run/systemd/notify".into())
        );
        assert_eq!(
            parse_target("@/org/freedesktop/systemd1/notify/42".into()),
            Target::Abstract(b"/org/freedesktop/systemd1/notify/42".to_vec())
        );
        assert!(matches!(
            parse_target("vsock:2:1234".into()),
            Target::Unsupported(_)
        ));
    }

    #[test]
    fn unsupported_address_is_an_error_not_a_panic() {
        let n = Notifier::new(Some("vsock:2:1234".into()));
        assert!(matches!(n.ready(), Err(NotifyError::Unsupported(_))));
    }

    #[test]
    fn status_stays_on_one_line() {
        assert_eq!(crate::markup::one_line("a\nREADY=1\r\nb"), "a READY=1  b");
    }

    #[test]
    fn watchdog_is_ignored_without_a_manager() {
        let n = Notifier::new(None).with_watchdog(Some(Duration::from_secs(60)));
        assert_eq!(n.watchdog(), None);
    }

    #[test]
    fn zero_watchdog_counts_as_none() {
        // supervise() pings every half interval; zero would panic in
        // tokio::time::interval.
        let n = Notifier::new(Some("/run/systemd/notify".into()));
        assert_eq!(
            n.clone().with_watchdog(Some(Duration::ZERO)).watchdog(),
            None
        );
        assert_eq!(
            n.with_watchdog(Some(Duration::from_secs(1))).watchdog(),
            Some(Duration::from_secs(1))
        );
    }

    /// The flags field of /proc/self/fdinfo/<fd>, octal.
    fn fd_flags(fd: RawFd) -> u32 {
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .unwrap()
            .trim();
        u32::from_str_radix(flags, 8).unwrap()
    }

    #[test]
    fn adopted_listener_is_cloexec_nonblocking_and_serves() {
        use std::os::fd::{AsRawFd, IntoRawFd};
        const O_CLOEXEC: u32 = 0o2000000;
        const O_NONBLOCK: u32 = 0o4000;

        let bound = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = bound.local_addr().unwrap();
        let fd = bound.into_raw_fd();
        // SAFETY: into_raw_fd gave up ownership; nothing else holds `fd`.
        let listener = unsafe { adopt(fd) }.unwrap();
        let flags = fd_flags(listener.as_raw_fd());
        assert_ne!(flags & O_CLOEXEC, 0, "flags {flags:o}");
        assert_ne!(flags & O_NONBLOCK, 0, "flags {flags:o}");
        assert_eq!(listener.local_addr().unwrap(), addr);
        // Non-blocking: nothing pending means WouldBlock, not a hang.
        assert_eq!(
            listener.accept().unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let mut accepted = None;
        for _ in 0..100 {
            match listener.accept() {
                Ok(conn) => {
                    accepted = Some(conn);
                    break;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        assert!(accepted.is_some(), "the adopted socket never accepted");
    }

    #[test]
    fn unix_socket_is_not_adopted_as_tcp() {
        use std::os::fd::IntoRawFd;
        let dir = tempfile::tempdir().unwrap();
        let unix = std::os::unix::net::UnixListener::bind(dir.path().join("s")).unwrap();
        let fd = unix.into_raw_fd();
        // SAFETY: into_raw_fd gave up ownership; adopt closes it on error.
        let err = unsafe { adopt(fd) }.unwrap_err();
        assert!(matches!(err, ActivationError::NotTcp(_)), "{err}");
    }

    #[test]
    fn thread_count_sees_other_threads() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || rx.recv());
        assert!(!single_threaded());
        drop(tx);
        let _ = other.join();
    }
}
