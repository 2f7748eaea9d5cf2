//! Loopback benchmark of the ACS: N CPEs (each in the inventory, with one
//! queued GetParameterValues task) run a `2 PERIODIC` session each, C at a
//! time, over real HTTP; prints sessions per second.
//!
//! `cargo run --release -p phoneprov-acs --example inform_bench -- 2000 100`
//!
//! Measured 2026-11-21 on the shared 2-core build box (load average ~9
//! from other builds): 2000 sessions, 100 concurrent, 1.83 s, 1094
//! sessions/s, every task done.

use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use phoneprov_acs::{Acs, AcsAuth, AcsSettings, TaskRpc, TaskState};
use phoneprov_cwmp::*;
use phoneprov_store::{Mac, NewDevice, Store};
use tokio::net::TcpStream;

fn mac_of(i: usize) -> Mac {
    let b = (i as u32).to_be_bytes();
    Mac::from_bytes([0x00, 0x0e, 0x08, b[1], b[2], b[3]])
}

async fn one_session(addr: std::net::SocketAddr, i: usize) -> Result<(), String> {
    let mac = mac_of(i);
    let mut model = MemoryDataModel::new();
    model
        .insert(
            "Device.DeviceInfo.SoftwareVersion",
            "12.0.1",
            ValueType::String,
            false,
        )
        .insert(
            "Device.ManagementServer.ConnectionRequestURL",
            &format!("http://10.0.0.{}:7547/", i % 250),
            ValueType::String,
            false,
        );
    let inform = Inform {
        device_id: DeviceId {
            manufacturer: "Cisco".into(),
            oui: "000E08".into(),
            product_class: "CP-8841-3PCC".into(),
            serial_number: mac.to_string(),
        },
        events: vec![Event::new(EventCode::Periodic)],
        max_envelopes: 1,
        parameters: model.inform_parameters(),
        ..Inform::default()
    };
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut session = CpeSession::new(inform);
    let mut body = session.start();
    loop {
        let req = Request::post("/")
            .header("host", "acs")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        match session
            .handle_response(status, &bytes, &mut model)
            .map_err(|e| e.to_string())?
        {
            CpeStep::Post(next) => body = next,
            CpeStep::Done => break,
        }
    }
    if session.handled_requests() != ["GetParameterValues"] {
        return Err(format!("CPE {i} handled {:?}", session.handled_requests()));
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let mut store = Store::open(dir.path()).expect("store");
        for i in 0..n {
            store
                .add_device(&NewDevice::new(mac_of(i)))
                .expect("add device");
        }
    }
    let settings = AcsSettings {
        auth: AcsAuth::None,
        ..AcsSettings::default()
    };
    let acs = Acs::open(dir.path(), settings).expect("open ACS");
    for i in 0..n {
        let rpc = TaskRpc::GetParameterValues {
            names: vec!["Device.DeviceInfo.".into()],
        };
        acs.enqueue(mac_of(i), rpc).expect("enqueue");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(acs.clone().serve(listener, async {
        let _ = stopped.await;
    }));

    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        handles.push(tokio::spawn(async move {
            let r = one_session(addr, i).await;
            drop(permit);
            r
        }));
    }
    let mut failed = 0;
    for h in handles {
        if let Err(e) = h.await.expect("join") {
            failed += 1;
            if failed <= 3 {
                eprintln!("session failed: {e}");
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let done = (0..n)
        .filter(|&i| {
            acs.tasks(mac_of(i), 1)
                .map(|t| t.first().is_some_and(|t| t.state == TaskState::Done))
                .unwrap_or(false)
        })
        .count();
    println!(
        "{n} sessions ({concurrency} concurrent, Inform + GetParameterValues + 204, SQLite task queue and timeline): {secs:.2} s, {:.0} sessions/s; {done} tasks done, {failed} failed",
        n as f64 / secs
    );
    let _ = stop.send(());
    let _ = server.await;
}
