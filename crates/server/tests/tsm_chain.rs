//! US 8,060,449 end to end over real HTTP between separate roles: the issuer's TSM (with its
//! driver) and the carrier's TSM, each its own server and database, and the phone's OTA client
//! relaying to a virtual element. Ends with the element paying with the token's key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration;

use provisio_apps::OtaClient;
use provisio_client::{LastImage, ProvisioClient, ota_pass};
use provisio_crypto::{AesKey, AwsLcProvider, SecretBytes};
use provisio_emv::{Atc, Transaction};
use provisio_gp::command::select;
use provisio_gp::scp03::{SecurityLevel, StaticKeys};
use provisio_gp::tlv::Tlv;
use provisio_gp::{Response, StatusWord};
use provisio_se::VirtualSe;
use provisio_se::payment::generate_ac;
use provisio_server::{
    MemorySink, SeiLink, SeiState, SpState, SystemClock, sei_router, sp_router, spawn_delivery,
    spawn_sp_driver,
};
use provisio_store::SqlStore;
use provisio_tsm::wire::{AddElement, AddProvider, HexKeys};
use provisio_tsm::{Credential, seal_credential};
use serde_json::{Value, json};

mod common;

const SEI_ADMIN: &str = "sei-admin-key";
const SP_ADMIN: &str = "sp-admin-key";
const KEY: [u8; 16] = [0xC7; 16];

struct Chain {
    sp_store: Arc<SqlStore>,
    sei_ota: ProvisioClient,
    sp_base: String,
    tsp_key: String,
    sp_jwk: provisio_jose::Jwk,
    http: reqwest::Client,
    _dirs: Vec<tempfile::TempDir>,
}

fn isd_keys() -> StaticKeys {
    StaticKeys::from_bytes(0x30, &[0x40; 16], &[0x41; 16], &[0x42; 16]).unwrap()
}

async fn store(dirs: &mut Vec<tempfile::TempDir>, name: &str) -> Arc<SqlStore> {
    let dir = tempfile::tempdir().unwrap();
    let url = provisio_testkit::postgres::store_url(dir.path(), name).await;
    dirs.push(dir);
    Arc::new(SqlStore::open(&url).await.unwrap())
}

async fn chain() -> Chain {
    let mut dirs = Vec::new();
    // The carrier's TSM.
    let sei_state = SeiState::new(
        store(&mut dirs, "sei.db").await,
        SecretBytes::new(vec![1; 32]),
        SEI_ADMIN,
        Arc::new(SystemClock),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sei_base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, sei_router(sei_state)).await });
    let sei = ProvisioClient::new(&sei_base, SEI_ADMIN);

    // The issuer's TSM: its key first, then its registration with the carrier.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sp_base = format!("http://{}", l.local_addr().unwrap());
    let link = SeiLink {
        base: sei_base.clone(),
        api_key: String::new(),
    };
    let sp_store = store(&mut dirs, "sp.db").await;
    let sp_state = SpState::open(
        sp_store.clone(),
        SecretBytes::new(vec![2; 32]),
        SP_ADMIN,
        Arc::new(SystemClock),
        hex::decode("A000000003").unwrap(),
        sp_base.clone(),
        link.clone(),
    )
    .await
    .unwrap();
    let sp_jwk = sp_state.public_jwk();
    let provider = sei
        .sei_add_provider(&AddProvider {
            sp_id: "bank-tsm".into(),
            aid_prefix: "A000000003".into(),
            encryption_jwk: sp_jwk.clone(),
        })
        .await
        .unwrap();
    let sp_state = sp_state.with_sei(SeiLink {
        api_key: provider.api_key,
        ..link
    });
    spawn_sp_driver(sp_state.clone(), Duration::from_millis(50));
    tokio::spawn(async move { axum::serve(l, sp_router(sp_state)).await });

    let k = isd_keys();
    let hx = |key: &AesKey| hex::encode(key.export().expose());
    let element = sei
        .sei_add_element(&AddElement {
            se_id: "se-1".into(),
            isd_keys: HexKeys {
                kvn: "30".into(),
                enc: hx(&k.enc),
                mac: hx(&k.mac),
                dek: hx(&k.dek),
            },
        })
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let r: Value = http
        .post(format!("{sp_base}/v1/sp/admin/callers"))
        .bearer_auth(SP_ADMIN)
        .json(&json!({"name": "token-service"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Chain {
        sp_store,
        sei_ota: sei.with_key(&element.ota_key),
        sp_base,
        tsp_key: r["api_key"].as_str().unwrap().to_owned(),
        sp_jwk,
        http,
        _dirs: dirs,
    }
}

impl Chain {
    fn job(&self, id: &str) -> Value {
        let credential = Credential {
            token_pan: "4999990000001234".into(),
            exp_year: 2029,
            exp_month: 12,
            cryptogram_key: provisio_jose::b64_encode(&KEY),
        };
        let jwe = seal_credential(
            &AwsLcProvider::new(),
            &self.sp_jwk.public_key().unwrap(),
            &credential,
        )
        .unwrap();
        json!({"job_id": id, "se_id": "se-1", "ssd": "A000000003535041AB01", "applet": "A0000000031010AB01", "credential": jwe})
    }

    async fn post_job(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/v1/sp/jobs", self.sp_base))
            .bearer_auth(&self.tsp_key)
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Waits until the SP-TSM has the job (the token service's outbox delivers it).
    async fn job_arrives(&self, id: &str) {
        for _ in 0..200 {
            let r = self
                .http
                .get(format!("{}/v1/sp/jobs/{id}", self.sp_base))
                .bearer_auth(&self.tsp_key)
                .send()
                .await
                .unwrap();
            if r.status() == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("job {id} never reached the SP-TSM");
    }

    async fn job_state(&self, id: &str) -> String {
        let r: Value = self
            .http
            .get(format!("{}/v1/sp/jobs/{id}", self.sp_base))
            .bearer_auth(&self.tsp_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["state"].as_str().unwrap().to_owned()
    }

    /// Runs the phone's OTA client until the job is DONE.
    async fn phone_until_done(
        &self,
        ota: &mut OtaClient,
        id: &str,
        mut drop_after: Option<usize>,
    ) -> usize {
        let mut images = LastImage::default();
        let mut commands = 0;
        // A pass with nothing to do (the bank TSM's driver has not moved the job on yet) waits
        // a little longer each time: on a loaded machine a step of the driver takes a while.
        for pass in 0..100u64 {
            if self.job_state(id).await == "DONE" {
                return commands;
            }
            if pass > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(pass.min(50))).await;
            }
            let run = match ota_pass(&self.sei_ota, ota, &mut images, 1, drop_after.take()).await {
                Ok(run) => run,
                Err(e) => {
                    let pending = self.sei_ota.ota_messages(0).await.unwrap();
                    panic!("{e}; pending {:?}", pending.messages);
                }
            };
            commands += run.commands;
        }
        panic!("job {id} stuck in {}", self.job_state(id).await);
    }
}

fn pays(se: &mut VirtualSe) {
    pays_with(se, &"A0000000031010AB01".parse().unwrap(), &KEY);
}

/// The applet answers GENERATE AC with a cryptogram under `key`.
fn pays_with(se: &mut VirtualSe, applet: &provisio_gp::Aid, key: &[u8]) {
    let tx = |se: &mut VirtualSe, cmd: &provisio_gp::Command| {
        Response::parse(&se.transmit(&cmd.encode().unwrap())).unwrap()
    };
    assert_eq!(tx(se, &select(applet)).sw, StatusWord::OK);
    let transaction = Transaction::parse(1250, "978", "250", "261203", "01020304").unwrap();
    let r = tx(se, &generate_ac(&transaction));
    let kids = Tlv::parse_one(&r.data).unwrap().children().unwrap();
    let ac = Tlv::find(&kids, 0x9F26).unwrap().value.clone();
    let key = AesKey::from_bytes(key).unwrap();
    assert!(provisio_emv::verify(&key, Atc::FIRST, &transaction, &ac).unwrap());
}

#[tokio::test]
async fn the_chain_runs_over_http_and_the_element_pays() {
    let c = chain().await;
    let doc: Value = c
        .http
        .get(format!("{}/openapi.json", c.sp_base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/v1/sp/jobs",
        "/v1/sp/jobs/{job_id}",
        "/v1/sp/ota/sessions",
        "/v1/sp/ota/sessions/{session_id}",
        "/v1/sp/keys/handover",
        "/v1/sp/admin/callers",
    ] {
        assert!(doc["paths"][p].is_object(), "{p}");
    }
    let job = c.job("job-1");
    let (status, v) = c.post_job(&job).await;
    assert_eq!(
        (status, v["state"].as_str()),
        (201, Some("RECEIVED")),
        "{v}"
    );
    // A duplicated request is one job; a reused id with another body is refused.
    assert_eq!(c.post_job(&job).await.0, 200);
    let mut other = job.clone();
    other["applet"] = json!("A0000000031010AB02");
    assert_eq!(c.post_job(&other).await.1["code"], "request_conflict");
    let mut outside = c.job("job-2");
    outside["ssd"] = json!("A000000004535041AB01");
    assert_eq!(c.post_job(&outside).await.1["code"], "outside_own_domain");
    let mut unreadable = c.job("job-3");
    unreadable["credential"] = json!("e30.e30.e30.e30.e30");
    assert_eq!(
        c.post_job(&unreadable).await.1["code"],
        "credential_unreadable"
    );

    let mut ota = OtaClient::new(VirtualSe::new(isd_keys(), [0; 10], SecurityLevel::FULL));
    let commands = c.phone_until_done(&mut ota, "job-1", None).await;
    assert!(commands > 20, "{commands}");
    pays(ota.element());

    // The SP-TSM's audit log has every APDU of its sessions, and at level 33 neither the token
    // nor its key crossed the relay in the clear.
    let log = provisio_store::TsmStore::tsm_apdus(c.sp_store.as_ref(), "self", "job-1")
        .await
        .unwrap();
    assert!(log.len() >= 20, "{}", log.len());
    let token = hex::decode("4999990000001234").unwrap();
    for row in &log {
        assert!(!row.apdu.windows(8).any(|w| w == token.as_slice()));
        assert!(!row.apdu.windows(16).any(|w| w == KEY));
    }
}

#[tokio::test]
async fn the_phone_drops_off_in_every_session_and_the_chain_still_completes_once() {
    for drop in [3, 8, 12, 16, 20, 24] {
        let c = chain().await;
        c.post_job(&c.job("job-1")).await;
        let mut ota = OtaClient::new(VirtualSe::new(isd_keys(), [0; 10], SecurityLevel::FULL));
        c.phone_until_done(&mut ota, "job-1", Some(drop)).await;
        pays(ota.element());
    }
}

#[tokio::test]
async fn the_token_service_hands_the_job_over_and_the_tsm_report_makes_the_token_payment_ready() {
    let c = chain().await;
    // The token service, served over HTTP with its outbox deliverer.
    let h = common::harness().await;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tsp_base = format!("http://{}", l.local_addr().unwrap());
    let state = h.state.clone().with_public_url(&tsp_base);
    let _deliverer = spawn_delivery(state.clone(), Arc::new(MemorySink::default()));
    tokio::spawn(async move { axum::serve(l, provisio_server::router(state)).await });
    ProvisioClient::new(&tsp_base, common::ADMIN)
        .set_sp_tsm(
            "bank-a",
            &provisio_tsp::wire::SpTsmConfig {
                url: c.sp_base.clone(),
                api_key: Some(c.tsp_key.clone()),
                encryption_jwk: c.sp_jwk.clone(),
                aid_prefix: "A000000003".into(),
            },
        )
        .await
        .unwrap();
    let wallet = ProvisioClient::new(&tsp_base, &h.wallet_key);
    let mut req = h.request_with(|_| {});
    req.device.secure_element_id = Some("se-1".into());
    let r = wallet.push_provisioning(&req, None).await.unwrap();
    let pv = r.provisioning_id.clone();
    assert!(!wallet.installation(&pv).await.unwrap().payment_ready);

    c.job_arrives(&pv).await;
    let mut ota = OtaClient::new(VirtualSe::new(isd_keys(), [0; 10], SecurityLevel::FULL));
    c.phone_until_done(&mut ota, &pv, Some(12)).await;
    let mut installed = None;
    for _ in 0..200 {
        let now = wallet.installation(&pv).await.unwrap();
        if now.payment_ready {
            installed = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let installed = installed.expect("the SP-TSM never reported");
    assert_eq!(
        installed.state,
        provisio_tsp::wire::InstallationState::Installed
    );
    // The SP-TSM records the acknowledgement once the answer reaches it.
    let mut acknowledged = false;
    for _ in 0..200 {
        let row = provisio_store::SpStore::sp_job(c.sp_store.as_ref(), &pv)
            .await
            .unwrap()
            .unwrap();
        if row.reported_at.is_some() {
            acknowledged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        acknowledged,
        "the report's acknowledgement was never recorded"
    );

    // The element pays with the token's key, in the applet the token service named.
    let access = h
        .wallet
        .open_access_data(&h.crypto, r.access_data.as_deref().unwrap())
        .unwrap();
    let (_, applet) = provisio_tsp::token_aids(
        &h.crypto,
        &hex::decode("A000000003").unwrap(),
        &installed.token_ref_id,
    )
    .unwrap();
    pays_with(
        ota.element(),
        &applet,
        &provisio_jose::b64_decode(&access.cryptogram_key).unwrap(),
    );
}

#[tokio::test]
async fn the_sp_tsm_retries_its_report_until_the_caller_acknowledges() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let c = chain().await;
    // A caller that is down for the first two reports.
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let app = axum::Router::new().route(
        "/report",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                let seen = seen.clone();
                async move {
                    assert_eq!(headers["authorization"], "Bearer the-report-token");
                    assert_eq!(
                        (body["job_id"].as_str(), body["state"].as_str()),
                        (Some("job-r"), Some("DONE"))
                    );
                    if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/report", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    let mut job = c.job("job-r");
    job["report_url"] = json!(url);
    // A report URL without its token (or elsewhere than TLS or this host) is refused.
    assert_eq!(c.post_job(&job).await.1["code"], "malformed_request");
    job["report_token"] = json!("the-report-token");
    let mut plain = job.clone();
    plain["report_url"] = json!("http://tsp.example/report");
    assert_eq!(c.post_job(&plain).await.1["code"], "malformed_request");
    assert_eq!(c.post_job(&job).await.0, 201);

    let mut ota = OtaClient::new(VirtualSe::new(isd_keys(), [0; 10], SecurityLevel::FULL));
    c.phone_until_done(&mut ota, "job-r", None).await;
    for _ in 0..300 {
        let row = provisio_store::SpStore::sp_job(c.sp_store.as_ref(), "job-r")
            .await
            .unwrap()
            .unwrap();
        if row.reported_at.is_some() {
            assert_eq!(calls.load(Ordering::SeqCst), 3);
            // Acknowledged: never reported again.
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(calls.load(Ordering::SeqCst), 3);
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the report was never acknowledged ({} calls)",
        calls.load(Ordering::SeqCst)
    );
}
