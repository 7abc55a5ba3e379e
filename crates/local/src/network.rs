//! A network of its own for a local Pod: a network namespace with one address on a bridge of
//! ours, as a Pod has on a node.
//!
//! Parallel workers and service instances are Pods of their own on a cluster: each has its own
//! address, and two replicas of a service listen on the same port. Locally they get the same
//! from the host's own tools (iproute2's `ip`, as root): a bridge [`BRIDGE`] with the host's
//! address [`HOST`] on `10.219.0.0/16`, and per Pod a named network namespace
//! (`/run/netns/tw-…`) joined to it by a veth pair, its address leased from a directory of
//! files ([`LEASES`]) so that concurrent runs never share one. Kernel settings, iptables and
//! `ip_forward` are left alone: Pods reach each other and the host over the bridge, and
//! nothing else. The one setting made is inside the Pod's own namespace: ports below 1024 are
//! open to its processes (a service on port 80 in a user namespace), as Kubernetes does.
//!
//! A lease names the process that uses the address; a later lease reclaims (and deletes the
//! namespace of) one whose process is gone, so a runner killed with `kill -9` leaks nothing
//! for long.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::LocalError;

/// The bridge every local Pod network is on.
pub const BRIDGE: &str = "testwerk0";
/// The host's address on [`BRIDGE`]: where Pods reach the runner's server.
pub const HOST: Ipv4Addr = Ipv4Addr::new(10, 219, 0, 1);
const PREFIX_LEN: u8 = 16;
/// Locally administered, so it is no vendor's.
const BRIDGE_MAC: &str = "02:74:77:00:00:01";
/// Where leases and the lock are (a tmpfs: a reboot forgets them with the namespaces).
pub const LEASES: &str = "/run/testwerk/pod-network";
/// Where `ip netns` keeps named namespaces.
const NETNS_DIR: &str = "/run/netns";

/// Whether Pods on this machine can have networks of their own: as root, with `ip`. The error
/// says what is missing.
pub fn available() -> Result<PathBuf, String> {
    if !rustix::process::geteuid().is_root() {
        return Err("networks of their own for workers and services need root; without it they share this machine's network".into());
    }
    ip_program().ok_or_else(|| {
        "networks of their own for workers and services need iproute2's `ip` (`apt-get install iproute2`); without it they share this machine's network".into()
    })
}

/// The host's address on the bridge (made if missing), where Pods with networks of their own
/// reach the runner; the error says why there is none.
pub fn host_address() -> Result<Ipv4Addr, String> {
    prepared().map_err(|e| e.to_string())?;
    Ok(HOST)
}

/// `ip`, with the bridge in place and the lock on leases held (until the [`Lock`] drops).
fn prepared() -> Result<(PathBuf, Lock), LocalError> {
    let ip = available().map_err(LocalError::Setup)?;
    let dir = Path::new(LEASES);
    std::fs::create_dir_all(dir).map_err(|e| LocalError::io(dir, e))?;
    let lock = Lock::take(&dir.join("lock"))?;
    bridge(&ip)?;
    Ok((ip, lock))
}

fn ip_program() -> Option<PathBuf> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// One Pod's network: its namespace and address. Dropping it deletes the namespace and
/// returns the address.
#[derive(Debug)]
pub struct PodNetwork {
    name: String,
    address: Ipv4Addr,
    lease: PathBuf,
    ip: PathBuf,
    /// The process the lease names now (ours, then the child's after [`PodNetwork::hand_to`]).
    holder: std::sync::atomic::AtomicU32,
}

impl PodNetwork {
    /// Makes the bridge if it is missing, leases an address and makes the namespace.
    pub fn create() -> Result<PodNetwork, LocalError> {
        let (ip, lock) = prepared()?;
        let dir = Path::new(LEASES);
        let address = lease(&ip, dir)?;
        let name = netns_name(address);
        let net = PodNetwork {
            lease: dir.join(address.to_string()),
            name,
            address,
            ip,
            holder: std::sync::atomic::AtomicU32::new(std::process::id()),
        };
        let built = net.build();
        // Released before a failed `net` drops: its drop takes the lock again.
        drop(lock);
        built?;
        Ok(net)
    }

    /// The namespace's path, as runc joins it.
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    pub fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// Names `pid` as the process using the address (a lease of a process that is gone is
    /// taken back).
    pub fn hand_to(&self, pid: u32) -> Result<(), LocalError> {
        write_lease(&self.lease, pid)?;
        self.holder.store(pid, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    fn build(&self) -> Result<(), LocalError> {
        let veth = veth_name(self.address);
        let cidr = format!("{}/{PREFIX_LEN}", self.address);
        let host = HOST.to_string();
        run(&self.ip, &["netns", "add", &self.name])?;
        run(
            &self.ip,
            &[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &self.name,
            ],
        )?;
        run(&self.ip, &["link", "set", &veth, "master", BRIDGE, "up"])?;
        let n = ["-n", self.name.as_str()];
        run(
            &self.ip,
            &[&n[..], &["addr", "add", &cidr, "dev", "eth0"]].concat(),
        )?;
        run(&self.ip, &[&n[..], &["link", "set", "eth0", "up"]].concat())?;
        run(&self.ip, &[&n[..], &["link", "set", "lo", "up"]].concat())?;
        run(
            &self.ip,
            &[&n[..], &["route", "add", "default", "via", &host]].concat(),
        )?;
        open_low_ports(&self.path())
    }
}

impl Drop for PodNetwork {
    fn drop(&mut self) {
        // Under the lock, and only while the lease still names our holder: once the child it
        // was handed to has ended, another run may have taken the address back and made a
        // namespace of the same name, which is not ours to delete.
        let _lock = Lock::take(&Path::new(LEASES).join("lock"));
        let holder = self.holder.load(std::sync::atomic::Ordering::Relaxed);
        let ours = std::fs::read_to_string(&self.lease)
            .is_ok_and(|text| text.trim().parse::<u32>() == Ok(holder));
        if !ours {
            return;
        }
        // The veth pair goes with the namespace.
        if let Err(e) = run(&self.ip, &["netns", "del", &self.name]) {
            tracing::warn!("cannot delete the network namespace {}: {e}", self.name);
        }
        let _ = std::fs::remove_file(&self.lease);
    }
}

fn netns_name(address: Ipv4Addr) -> String {
    let [_, _, c, d] = address.octets();
    format!("tw-{c}-{d}")
}

/// At most 15 characters, as the kernel allows.
fn veth_name(address: Ipv4Addr) -> String {
    let [_, _, c, d] = address.octets();
    format!("twv{c:02x}{d:02x}")
}

/// Makes [`BRIDGE`] with [`HOST`] on it, unless it is there.
fn bridge(ip: &Path) -> Result<(), LocalError> {
    let exists = Path::new("/sys/class/net").join(BRIDGE).exists();
    if !exists {
        // A fixed MAC: a bridge without one takes the lowest of its ports', which changes as
        // Pods come and go and leaves their neighbours with a stale entry for the host.
        run(
            ip,
            &[
                "link", "add", BRIDGE, "address", BRIDGE_MAC, "type", "bridge",
            ],
        )?;
    }
    let shown = output(ip, &["-4", "addr", "show", "dev", BRIDGE])?;
    if !shown.contains(&format!("inet {HOST}/")) {
        run(
            ip,
            &[
                "addr",
                "add",
                &format!("{HOST}/{PREFIX_LEN}"),
                "dev",
                BRIDGE,
            ],
        )?;
    }
    run(ip, &["link", "set", BRIDGE, "up"])
}

/// A free address, its lease file made (with our pid until [`PodNetwork::hand_to`]). A lease
/// whose process is gone is taken back, its namespace deleted. Leases are made under the lock,
/// so taking one back is overwriting it.
fn lease(ip: &Path, dir: &Path) -> Result<Ipv4Addr, LocalError> {
    let start = std::process::id() as usize;
    let span = 254 * 254;
    for k in 0..span {
        let n = (start + k) % span;
        let address = Ipv4Addr::new(10, 219, (n / 254 + 1) as u8, (n % 254 + 1) as u8);
        let file = dir.join(address.to_string());
        let free = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
        {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let stale = lease_is_stale(&file);
                let name = netns_name(address);
                if stale && Path::new(NETNS_DIR).join(&name).exists() {
                    let _ = run(ip, &["netns", "del", &name]);
                }
                stale
            }
            Err(e) => return Err(LocalError::io(&file, e)),
        };
        if free {
            write_lease(&file, std::process::id())?;
            return Ok(address);
        }
    }
    Err(LocalError::Setup(format!(
        "every address of {HOST}/{PREFIX_LEN} is leased (see {LEASES})"
    )))
}

fn write_lease(file: &Path, pid: u32) -> Result<(), LocalError> {
    std::fs::write(file, format!("{pid}\n")).map_err(|e| LocalError::io(file, e))
}

/// The lease names a process that no longer runs (or nothing readable).
fn lease_is_stale(file: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    match text.trim().parse::<u32>() {
        Ok(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
        // Written but not yet filled in by its maker: not ours to take.
        Err(_) => false,
    }
}

/// Ports below 1024 for every process in the namespace (`net.ipv4.ip_unprivileged_port_start`
/// of that namespace only; the host's stays as it is).
fn open_low_ports(netns: &Path) -> Result<(), LocalError> {
    let netns = netns.to_owned();
    let joined = std::thread::spawn(move || -> Result<(), LocalError> {
        let fd = std::fs::File::open(&netns).map_err(|e| LocalError::io(&netns, e))?;
        rustix::thread::move_into_link_name_space(
            std::os::fd::AsFd::as_fd(&fd),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .map_err(|e| LocalError::Setup(format!("cannot enter {}: {e}", netns.display())))?;
        let knob = Path::new("/proc/sys/net/ipv4/ip_unprivileged_port_start");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(knob)
            .map_err(|e| LocalError::io(knob, e))?;
        file.write_all(b"0").map_err(|e| LocalError::io(knob, e))
    })
    .join();
    joined.map_err(|_| LocalError::Internal("entering a Pod's network panicked".into()))?
}

/// Serializes bridge setup and leasing between runs (the lock is held while the file is open).
struct Lock {
    _file: std::fs::File,
}

impl Lock {
    fn take(path: &Path) -> Result<Lock, LocalError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| LocalError::io(path, e))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| LocalError::io(path, e.into()))?;
        Ok(Lock { _file: file })
    }
}

fn run(ip: &Path, args: &[&str]) -> Result<(), LocalError> {
    output(ip, args).map(drop)
}

fn output(ip: &Path, args: &[&str]) -> Result<String, LocalError> {
    let out = Command::new(ip)
        .args(args)
        .output()
        .map_err(|e| LocalError::io(ip, e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(LocalError::Setup(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_kernel_and_tell_the_address() {
        let a = Ipv4Addr::new(10, 219, 254, 254);
        assert_eq!(netns_name(a), "tw-254-254");
        assert_eq!(veth_name(a), "twvfefe");
        assert!(veth_name(a).len() <= 15);
    }

    #[test]
    fn a_lease_of_a_process_that_is_gone_is_stale() {
        let dir = std::env::temp_dir().join(format!("tw-lease-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let file = dir.join("10.219.1.1");
        write_lease(&file, std::process::id()).expect("write");
        assert!(!lease_is_stale(&file));
        // Pid numbers stop well below this.
        write_lease(&file, 0x3fff_fff0).expect("write");
        assert!(lease_is_stale(&file));
        std::fs::write(&file, "").expect("write");
        assert!(!lease_is_stale(&file), "an unfinished lease is not taken");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
