//! The per-run network (`isoscope::net`) on the real kernel: namespaces, a bridge, nft rules and
//! blackhole routes, made and removed for real. Needs root (as the CI does); without it these
//! fail with the one line `Topology::create` refuses with.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use isoscope::net::{exists, NetThing, Topology};

const PORT: u16 = 7000;

fn topology(nodes: usize) -> Topology {
    Topology::create(nodes).unwrap_or_else(|e| panic!("{e}"))
}

/// A TCP listener on node `i`'s address (it accepts in the kernel: connects succeed while it lives).
fn listen(t: &Topology, i: usize) -> TcpListener {
    let addr = t.addr(i);
    t.enter(i, move || TcpListener::bind((addr, PORT)))
        .unwrap()
        .unwrap()
}

/// Whether a TCP connect from node `from` (or the root namespace, `None`) to node `to` succeeds
/// within a second.
fn connects(t: &Topology, from: Option<usize>, to: usize) -> bool {
    let addr = SocketAddr::from((t.addr(to), PORT));
    let go = move || TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok();
    match from {
        Some(i) => t.enter(i, go).unwrap(),
        None => go(),
    }
}

fn udp(t: &Topology, i: usize) -> UdpSocket {
    let addr = t.addr(i);
    let s = t
        .enter(i, move || UdpSocket::bind((addr, PORT)))
        .unwrap()
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s
}

/// Sends `n` datagrams from `from` to `to` and counts those that arrive.
fn datagrams(from: &UdpSocket, to: &UdpSocket, n: usize) -> usize {
    let dest = to.local_addr().unwrap();
    for k in 0..n {
        // A blackhole route makes the send itself fail; that datagram is lost too.
        let _ = from.send_to(&(k as u32).to_be_bytes(), dest);
    }
    let mut got = 0;
    let mut buf = [0u8; 16];
    while to.recv_from(&mut buf).is_ok() {
        got += 1;
    }
    got
}

#[test]
fn a_topology_comes_up_and_goes_away() {
    let t0 = Instant::now();
    let t = topology(3);
    let up = t0.elapsed();
    let things = t.things();
    for thing in &things {
        let made = !matches!(thing, NetThing::BridgeTable(_));
        assert_eq!(exists(thing), made, "{thing:?}");
    }
    assert!(t.bridge().len() <= 15 && t.veth(2).len() <= 15);
    let _l: Vec<TcpListener> = (0..3).map(|i| listen(&t, i)).collect();
    for i in 0..3 {
        assert!(connects(&t, None, i), "the root namespace reaches node {i}");
        assert!(
            connects(&t, Some((i + 1) % 3), i),
            "node {} reaches node {i}",
            (i + 1) % 3
        );
    }
    // A command runs inside the node's namespace: it sees its own address only.
    let out = t
        .command(1, "ip")
        .unwrap()
        .args(["-4", "-o", "addr", "show", "dev", "eth0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{}/24", t.addr(1))), "{text}");
    let t1 = Instant::now();
    drop(t);
    let down = t1.elapsed();
    for thing in &things {
        assert!(!exists(thing), "{thing:?} is still there");
    }
    eprintln!("3-node topology up in {up:.0?}, down in {down:.0?}");
}

#[test]
fn a_cut_blocks_tcp_both_ways_and_healing_restores_it() {
    let t = topology(3);
    let _l: Vec<TcpListener> = (0..3).map(|i| listen(&t, i)).collect();
    t.cut(&[0], &[1]).unwrap();
    assert!(exists(&NetThing::BridgeTable(t.table().into())));
    assert!(!connects(&t, Some(0), 1), "0 -> 1 is cut");
    assert!(!connects(&t, Some(1), 0), "1 -> 0 is cut");
    assert!(
        connects(&t, Some(0), 2) && connects(&t, Some(2), 1),
        "node 2 still reaches both"
    );
    assert!(
        connects(&t, None, 0) && connects(&t, None, 1),
        "clients still reach both"
    );
    t.heal().unwrap();
    assert!(!t.faulty());
    assert!(
        !exists(&NetThing::BridgeTable(t.table().into())),
        "healing deletes the table"
    );
    assert!(connects(&t, Some(0), 1) && connects(&t, Some(1), 0));
}

#[test]
fn a_one_way_cut_is_one_way() {
    let t = topology(2);
    let (a, b) = (udp(&t, 0), udp(&t, 1));
    assert_eq!(datagrams(&a, &b, 20), 20);
    t.cut_one_way(0, 1).unwrap();
    assert_eq!(
        datagrams(&a, &b, 20),
        0,
        "node 0 can no longer send to node 1"
    );
    assert_eq!(datagrams(&b, &a, 20), 20, "node 1 still sends to node 0");
    t.heal().unwrap();
    assert_eq!(datagrams(&a, &b, 20), 20);
}

#[test]
fn an_isolated_node_is_cut_off_from_clients_too_until_healed() {
    let t = topology(2);
    let _l: Vec<TcpListener> = (0..2).map(|i| listen(&t, i)).collect();
    t.isolate(1).unwrap();
    assert!(!connects(&t, None, 1) && !connects(&t, Some(0), 1));
    assert!(connects(&t, None, 0));
    t.heal().unwrap();
    // The link takes a moment to come back up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !connects(&t, None, 1) {
        assert!(Instant::now() < deadline, "node 1 did not come back");
    }
}

#[test]
fn packet_loss_drops_about_the_share_asked() {
    let t = topology(2);
    let (a, b) = (udp(&t, 0), udp(&t, 1));
    t.lose(&[1], 50).unwrap();
    let got = datagrams(&a, &b, 400);
    // 400 tries at 1/2: outside 120..=280 has a probability below 1e-15.
    assert!(
        (120..=280).contains(&got),
        "{got} of 400 arrived at 50 % loss"
    );
    assert_eq!(datagrams(&b, &a, 50), 50, "loss is towards node 1 only");
    t.lose(&[1], 100).unwrap();
    assert_eq!(datagrams(&a, &b, 50), 0);
    t.heal().unwrap();
    assert_eq!(datagrams(&a, &b, 50), 50);
}

#[test]
fn bad_arguments_are_refused() {
    assert!(Topology::create(0).is_err());
    let t = topology(2);
    let e = t.cut(&[0], &[2]).unwrap_err().to_string();
    assert!(e.contains("node 2 is not in a network of 2 nodes"), "{e}");
    assert!(t.lose(&[1], 0).is_err() && t.lose(&[1], 101).is_err());
    assert!(t.cut_one_way(1, 1).is_err());
    assert!(!t.faulty());
}

/// Set in the child this test starts: make a topology, print its names, and wait to be killed.
const CHILD: &str = "ISOSCOPE_NET_TEST_CHILD";

#[test]
fn a_sigkilled_owners_topology_is_removed_by_the_next_isoscope() {
    if std::env::var_os(CHILD).is_some() {
        let t = topology(3);
        t.cut(&[0], &[1, 2]).unwrap();
        println!("TAG {}", t.tag());
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    // Run this very test again as the child, and SIGKILL it once its topology is up.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "a_sigkilled_owners_topology_is_removed_by_the_next_isoscope",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let tag = loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(n > 0, "the child ended without a topology");
        if let Some(t) = line.strip_prefix("TAG ") {
            break t.trim().to_string();
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let things = [
        NetThing::BridgeTable(tag.clone()),
        NetThing::Netns(format!("{tag}n0")),
        NetThing::Netns(format!("{tag}n2")),
        NetThing::Link(format!("{tag}br")),
        NetThing::Link(format!("{tag}v1")),
    ];
    for thing in &things {
        assert!(exists(thing), "{thing:?} should outlive a SIGKILL");
    }
    // The next isoscope cleans up at its start, whatever it then does (here: an external server
    // that is not there).
    let out_dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args([
            "run",
            "--url",
            "mysql://127.0.0.1:1/x",
            "--workload",
            "counter",
            "--quiet",
        ])
        .arg("--out")
        .arg(out_dir.path().join("run"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("(network)"), "{stderr}");
    for thing in &things {
        assert!(!exists(thing), "{thing:?} was not cleaned up: {stderr}");
    }
}

#[test]
fn without_root_nothing_is_made_and_one_line_says_why() {
    // setresuid on one thread only (the raw system call; libc's wrapper changes every thread).
    let e = std::thread::spawn(|| {
        // SAFETY: changes this thread's effective uid to nobody's; the thread ends right after.
        let r = unsafe { libc::syscall(libc::SYS_setresuid, -1i32, 65534i32, -1i32) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        Topology::create(3).err().map(|e| e.to_string())
    })
    .join()
    .unwrap()
    .expect("refused");
    assert_eq!(
        e,
        "cluster networks need root (network namespaces, a bridge, nft); isoscope runs as uid 65534"
    );
    assert!(!e.contains('\n'));
}
