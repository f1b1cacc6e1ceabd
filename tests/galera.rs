//! A real MariaDB Galera cluster (galera-4) on isoscope's per-run network: it forms, replicates,
//! refuses on a node cut off from the majority (1047), rejoins after the heal with what it
//! missed, restarts a killed node at its recovered position, and leaves nothing behind. Needs
//! root and `scripts/install-servers` (mariadb-server, galera-4, rsync, nftables).

use std::time::{Duration, Instant};

use isoscope::net::exists;
use isoscope::server::galera::{Galera, GaleraCluster, GaleraConfig};
use mysql_async::prelude::*;

/// One cluster at a time: three mariadbd nodes already fill a 2-core machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const WAIT: Duration = Duration::from_secs(60);

async fn start(log_dir: &std::path::Path) -> GaleraCluster {
    let galera = Galera::locate(None).unwrap_or_else(|e| panic!("{e}"));
    let t = Instant::now();
    let c = GaleraCluster::start(galera, GaleraConfig::new(log_dir))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("3-node cluster synced in {:.1?}", t.elapsed());
    c
}

async fn conn(c: &GaleraCluster, i: usize) -> mysql_async::Conn {
    let ep = c.endpoint(i);
    let mut conn = mysql_async::Conn::new(ep.opts(Some(&ep.database)))
        .await
        .unwrap_or_else(|e| panic!("connecting to node {i} at {ep}: {e}"));
    // Reads wait until the node applied what the cluster committed before them.
    conn.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    conn
}

async fn ids(conn: &mut mysql_async::Conn) -> Vec<i64> {
    conn.query("SELECT id FROM t ORDER BY id").await.unwrap()
}

/// Drops the cluster and checks that its processes, folders and network are gone.
fn tear_down(c: GaleraCluster) {
    let pids: Vec<u32> = (0..c.nodes()).filter_map(|i| c.pid(i)).collect();
    let dirs: Vec<_> = (0..c.nodes()).map(|i| c.dir(i).to_path_buf()).collect();
    let things = c.net().things();
    let t = Instant::now();
    drop(c);
    eprintln!("cluster torn down in {:.1?}", t.elapsed());
    for p in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{p}")).exists(),
            "node pid {p} is still there"
        );
    }
    for d in dirs {
        assert!(!d.exists(), "{} is still there", d.display());
    }
    for thing in &things {
        assert!(!exists(thing), "{thing:?} is still there");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_replicates_refuses_when_cut_off_and_rejoins_with_what_it_missed() {
    let _one = ONE_AT_A_TIME.lock().await;
    let logs = tempfile::tempdir().unwrap();
    let c = start(logs.path()).await;
    for i in 0..3 {
        let s = c.status(i).await.unwrap();
        assert!(s.is_synced_in(3), "node {i}: {s:?}");
    }
    let (mut n1, mut n2) = (conn(&c, 0).await, conn(&c, 1).await);
    n1.query_drop("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    n1.query_drop("INSERT INTO t VALUES (1)").await.unwrap();
    assert_eq!(ids(&mut n2).await, [1], "a write on n1 is read on n2");

    // partition-one: n1 alone, n2 and n3 together.
    let cut = Instant::now();
    c.net().cut(&[0], &[1, 2]).unwrap();
    c.wait_status(0, WAIT, |s| !s.ready && s.component != "Primary")
        .await
        .unwrap();
    let detected = cut.elapsed();
    let err = n1
        .query_drop("SELECT * FROM t")
        .await
        .expect_err("a non-primary node refuses reads");
    match err {
        mysql_async::Error::Server(e) => assert_eq!(e.code, 1047, "{e}"),
        e => panic!("expected 1047, got {e}"),
    }
    c.wait_status(1, WAIT, |s| s.ready && s.cluster_size == 2)
        .await
        .unwrap();
    n2.query_drop("INSERT INTO t VALUES (2), (3)")
        .await
        .unwrap();

    let heal = Instant::now();
    c.net().heal().unwrap();
    c.wait_synced(&[0, 1, 2], WAIT).await.unwrap();
    let rejoined = heal.elapsed();
    let mut n1 = conn(&c, 0).await;
    assert_eq!(
        ids(&mut n1).await,
        [1, 2, 3],
        "n1 has the rows written while cut off"
    );
    eprintln!("partition-one: n1 non-primary after {detected:.1?}; synced again {rejoined:.1?} after the heal");
    drop((n1, n2));
    tear_down(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_restarts_at_its_recovered_position_and_catches_up_by_ist() {
    let _one = ONE_AT_A_TIME.lock().await;
    let logs = tempfile::tempdir().unwrap();
    let mut c = start(logs.path()).await;
    let mut n1 = conn(&c, 0).await;
    n1.query_drop("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    n1.query_drop("INSERT INTO t VALUES (1), (2)")
        .await
        .unwrap();
    let pid = c.pid(1).unwrap();
    c.kill(1);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    c.wait_status(0, WAIT, |s| s.ready && s.cluster_size == 2)
        .await
        .unwrap();
    n1.query_drop("INSERT INTO t VALUES (3)").await.unwrap();

    let before = std::fs::metadata(c.log_path(1)).unwrap().len();
    let t = Instant::now();
    let position = c.restart(1).await.unwrap_or_else(|e| panic!("{e}"));
    let took = t.elapsed();
    let (uuid, seqno) = position.split_once(':').expect("UUID:SEQNO");
    assert_eq!(uuid.len(), 36, "{position}");
    assert!(seqno.parse::<i64>().unwrap() > 0, "{position}");
    let log = std::fs::read_to_string(c.log_path(1)).unwrap();
    let after = &log[before as usize..];
    // The rsync script runs either way ("rsync SST started") and names the transfer it made.
    assert!(
        after.contains("rsync IST completed on joiner"),
        "no IST in n2's log:\n{after}"
    );
    assert!(
        !after.contains("rsync SST completed"),
        "n2 took a full state transfer:\n{after}"
    );
    let mut n2 = conn(&c, 1).await;
    assert_eq!(
        ids(&mut n2).await,
        [1, 2, 3],
        "n2 caught up with the row written while it was down"
    );
    eprintln!("kill -9 n2: recovered {position}, synced again in {took:.1?}");
    drop((n1, n2));
    tear_down(c);
}

/// Set in the child the SIGKILL test starts: start a cluster, cut node 1 off, print what it
/// made, and wait to be killed.
const CHILD: &str = "ISOSCOPE_GALERA_TEST_CHILD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_isoscope_mid_partition_leaves_nothing_the_next_one_does_not_remove() {
    if std::env::var_os(CHILD).is_some() {
        let logs = tempfile::tempdir().unwrap();
        let c = start(logs.path()).await;
        c.net().cut(&[0], &[1, 2]).unwrap();
        println!("TAG {}", c.net().tag());
        for i in 0..c.nodes() {
            println!("NODE {} {}", c.pid(i).unwrap(), c.dir(i).display());
        }
        println!("END");
        tokio::time::sleep(Duration::from_secs(120)).await;
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_sigkilled_isoscope_mid_partition_leaves_nothing_the_next_one_does_not_remove",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (mut tag, mut nodes) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(n > 0, "the child ended before its cluster was up");
        let line = line.trim();
        if let Some(t) = line.strip_prefix("TAG ") {
            tag = t.to_string();
        } else if let Some(rest) = line.strip_prefix("NODE ") {
            let (pid, dir) = rest.split_once(' ').unwrap();
            nodes.push((pid.parse::<u32>().unwrap(), std::path::PathBuf::from(dir)));
        } else if line == "END" {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The nodes die with it (parent-death signal, set after the switch to mysql).
    let deadline = Instant::now() + Duration::from_secs(10);
    for (pid, _) in &nodes {
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                Instant::now() < deadline,
                "node pid {pid} outlived its isoscope"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let things = [
        isoscope::net::NetThing::BridgeTable(tag.clone()),
        isoscope::net::NetThing::Netns(format!("{tag}n1")),
        isoscope::net::NetThing::Link(format!("{tag}br")),
    ];
    for thing in &things {
        assert!(exists(thing), "{thing:?} should outlive a SIGKILL");
    }
    assert!(nodes.iter().all(|(_, d)| d.exists()));
    // The next isoscope's start removes it all (here it then fails to reach an external server).
    let out_dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_isoscope"))
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
    for thing in &things {
        assert!(!exists(thing), "{thing:?} was not cleaned up: {stderr}");
    }
    for (_, d) in &nodes {
        assert!(!d.exists(), "{} was not cleaned up: {stderr}", d.display());
    }
}

fn base36(mut n: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isoscope_run_on_galera_checks_a_history_from_three_synced_nodes_and_leaves_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args([
            "run",
            "--db",
            "galera",
            "--workload",
            "list-append",
            "--time",
            "5s",
            "--quiet",
        ])
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let tag = format!("iso{}x", base36(child.id()));
    let o = child.wait_with_output().unwrap();
    let text = std::fs::read_to_string(out.join("run.json")).unwrap_or_else(|e| {
        panic!(
            "no run.json ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let run: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(run["status"], "done", "{text}");
    assert_eq!(run["server"]["flavor"], "galera");
    assert!(run["ok"].as_u64().unwrap() > 0, "{text}");
    let endpoint = run["server"]["endpoint"].as_str().unwrap();
    assert!(
        endpoint.starts_with("mysql://root@10.") && endpoint.ends_with(".1:3306/isoscope"),
        "{endpoint}"
    );
    for k in 1..=3 {
        assert!(
            out.join(format!("server-node{k}.log.gz")).exists(),
            "node{k}'s log"
        );
    }
    let netns = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let netns = String::from_utf8_lossy(&netns.stdout);
    assert!(
        !netns.contains(&tag),
        "namespaces of {tag} are left: {netns}"
    );
    assert!(!exists(&isoscope::net::NetThing::Link(format!("{tag}0br"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_fault_on_galera_restarts_node1_at_its_recovered_position_by_ist() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args([
            "run",
            "--db",
            "galera",
            "--workload",
            "list-append",
            "--time",
            "10s",
        ])
        .args(["--nemesis", "kill", "--quiet", "--seed", "1"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(out.join("run.json"))
        .unwrap_or_else(|e| panic!("no run.json ({e}): {}", String::from_utf8_lossy(&o.stderr)));
    let run: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(run["status"], "done", "{text}");
    let detail = run["faults"][0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("ready again"), "{text}");
    assert_eq!(run["check"]["durability"]["lost"], 0, "{text}");
    let log = std::process::Command::new("zcat")
        .arg(out.join("server-node1.log.gz"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    let restart = log.rsplit("Starting MariaDB").next().unwrap();
    assert!(
        restart.contains("--wsrep-start-position="),
        "no recovered position:\n{restart}"
    );
    assert!(
        restart.contains("rsync IST completed on joiner"),
        "no IST:\n{restart}"
    );
    eprintln!("kill fault on galera: {detail}");
}
