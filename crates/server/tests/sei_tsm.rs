//! The carrier's TSM over real HTTP: registration, service request intake, the OTA client's
//! long-poll and admin sessions relayed to a virtual secure element, resumption after the
//! phone drops off and after a server restart, a tampered APDU, the audit log, and the key
//! handover package opened by the issuer's TSM, which then locks the carrier out.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use provisio_crypto::{AwsLcProvider, CryptoProvider, EcKeyPair, SecretBytes};
use provisio_gp::Aid;
use provisio_gp::scp03::{SecurityLevel, StaticKeys};
use provisio_jose::Jwk;
use provisio_se::VirtualSe;
use provisio_server::{SeiState, SystemClock, sei_router};
use provisio_store::{SqlStore, TsmStore};
use provisio_tsm::{AdminSession, Next, TakeOverKeys, open_initial_keys};
use provisio_types::Refusal;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ADMIN: &str = "sei-admin-key";
const SSD: &str = "A000000003535041AB01";
const APPLET: &str = "A0000000031010AB01";

fn isd_keys() -> StaticKeys {
    StaticKeys::from_bytes(0x30, &[0x40; 16], &[0x41; 16], &[0x42; 16]).unwrap()
}

struct Sei {
    base: String,
    http: reqwest::Client,
    store: Arc<SqlStore>,
    db: String,
    master: Vec<u8>,
    _dir: tempfile::TempDir,
}

async fn serve(store: Arc<SqlStore>, master: &[u8]) -> String {
    let state = SeiState::new(
        store,
        SecretBytes::new(master.to_vec()),
        ADMIN,
        Arc::new(SystemClock),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, sei_router(state)).await });
    base
}

async fn sei() -> Sei {
    let dir = tempfile::tempdir().unwrap();
    let db = provisio_testkit::postgres::store_url(dir.path(), "sei.db").await;
    let store = Arc::new(SqlStore::open(&db).await.unwrap());
    let master = vec![7u8; 32];
    let base = serve(store.clone(), &master).await;
    Sei {
        base,
        http: reqwest::Client::new(),
        store,
        db,
        master,
        _dir: dir,
    }
}

impl Sei {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, key, Some(body))
            .await
    }

    async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, key, None).await
    }
}

/// A registered element and provider: (OTA key, SP key, SP's handover key).
async fn registered(s: &Sei) -> (String, String, EcKeyPair) {
    let k = isd_keys();
    let hx = |key: &provisio_crypto::AesKey| hex::encode(key.export().expose());
    let (st, v) = s
        .post("/v1/sei/admin/elements", ADMIN, json!({"se_id": "se-1", "isd_keys": {"kvn": "30", "enc": hx(&k.enc), "mac": hx(&k.mac), "dek": hx(&k.dek)}}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let ota = v["ota_key"].as_str().unwrap().to_owned();
    let sp_key = AwsLcProvider::new().generate_ec_key().unwrap();
    let jwk = Jwk::from_public_key(sp_key.public_key());
    let (st, v) = s
        .post(
            "/v1/sei/admin/service-providers",
            ADMIN,
            json!({"sp_id": "bank-tsm", "aid_prefix": "A000000003", "encryption_jwk": jwk}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    (ota, v["api_key"].as_str().unwrap().to_owned(), sp_key)
}

fn create(id: &str) -> Value {
    json!({"request_id": id, "se_id": "se-1", "kind": "CREATE_DOMAIN", "ssd": SSD, "applet": APPLET})
}

/// What the relay does.
#[derive(Clone, Copy)]
enum Relay {
    Faithful,
    /// Stops after passing `n` commands to the element (the n-th response never arrives).
    DropAfter(usize),
    /// Flips a data bit of command `n`.
    Tamper(usize),
}

/// The OTA client: opens a session for the request and relays until done. `Ok(true)` when
/// the TSM says done, `Ok(false)` when the relay dropped out, `Err(code)` on a refusal.
async fn relay(
    s: &Sei,
    ota: &str,
    se: &mut VirtualSe,
    request_id: &str,
    mode: Relay,
) -> Result<bool, String> {
    let (st, v) = s
        .post(
            "/v1/sei/ota/sessions",
            ota,
            json!({"sp_id": "bank-tsm", "request_id": request_id}),
        )
        .await;
    if st != StatusCode::CREATED {
        return Err(v["code"].as_str().unwrap_or("?").to_owned());
    }
    let sid = v["session_id"].as_str().unwrap().to_owned();
    let mut apdu = hex::decode(v["apdu"].as_str().unwrap()).unwrap();
    for n in 1.. {
        if matches!(mode, Relay::Tamper(t) if t == n) {
            apdu[5] ^= 0x01;
        }
        let response = se.transmit(&apdu);
        if matches!(mode, Relay::DropAfter(d) if d == n) {
            return Ok(false);
        }
        let (st, v) = s
            .post(
                &format!("/v1/sei/ota/sessions/{sid}"),
                ota,
                json!({"apdu": hex::encode(response)}),
            )
            .await;
        if st != StatusCode::OK {
            return Err(v["code"].as_str().unwrap_or("?").to_owned());
        }
        if v["done"] == true {
            return Ok(true);
        }
        apdu = hex::decode(v["apdu"].as_str().unwrap()).unwrap();
    }
    unreachable!()
}

fn element() -> VirtualSe {
    VirtualSe::new(isd_keys(), [0; 10], SecurityLevel::CMAC)
}

#[tokio::test]
async fn intake_refuses_what_a_carrier_must_refuse() {
    let s = sei().await;
    let (ota, sp, _) = registered(&s).await;
    let (st, v) = s.post("/v1/sei/service-requests", &sp, create("r1")).await;
    assert_eq!(
        (st, v["state"].as_str()),
        (StatusCode::CREATED, Some("RECEIVED"))
    );
    let (st, _) = s.post("/v1/sei/service-requests", &sp, create("r1")).await;
    assert_eq!(
        st,
        StatusCode::OK,
        "the same request again is the same request"
    );
    let mut other = create("r1");
    other["applet"] = json!("A0000000031010AB02");
    let (st, v) = s.post("/v1/sei/service-requests", &sp, other).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("request_conflict"))
    );
    let mut outside = create("r2");
    outside["ssd"] = json!("A000000004535041AB01");
    let (st, v) = s.post("/v1/sei/service-requests", &sp, outside).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("outside_own_domain"))
    );
    let mut unknown = create("r3");
    unknown["se_id"] = json!("se-404");
    let (st, v) = s.post("/v1/sei/service-requests", &sp, unknown).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_element"))
    );
    let delegate = json!({"request_id": "p1", "se_id": "se-1", "kind": "DELEGATE_PERSONALIZATION", "ssd": SSD, "sp_endpoint": "https://sp.example/v1/sp"});
    let (st, v) = s.post("/v1/sei/service-requests", &sp, delegate).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("domain_not_ready"))
    );
    // Keys in the wrong hands.
    let (st, _) = s.post("/v1/sei/service-requests", &ota, create("r4")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s.get("/v1/sei/ota/messages", &sp).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .post("/v1/sei/service-requests", "nonsense", create("r5"))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // One request, one durable message.
    let (_, v) = s.get("/v1/sei/ota/messages?wait=0", &ota).await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    assert_eq!(v["messages"][0]["connect"], "SEI");
}

#[tokio::test]
async fn the_phone_drops_off_mid_script_and_the_next_session_finishes_without_repeating() {
    let s = sei().await;
    let (ota, sp, sp_key) = registered(&s).await;
    s.post("/v1/sei/service-requests", &sp, create("r1")).await;
    let (_, v) = s.get("/v1/sei/ota/messages?wait=1", &ota).await;
    let message_id = v["messages"][0]["message_id"].as_str().unwrap().to_owned();

    let mut se = element();
    // Commands 6 to 10 are the plan's steps: cut after the second step was applied.
    assert_eq!(
        relay(&s, &ota, &mut se, "r1", Relay::DropAfter(7)).await,
        Ok(false)
    );
    let (_, v) = s.get("/v1/sei/service-requests/r1", &sp).await;
    assert_eq!(v["state"], "IN_PROGRESS");
    assert_eq!(
        relay(&s, &ota, &mut se, "r1", Relay::Faithful).await,
        Ok(true)
    );
    let (st, _) = s
        .post(
            &format!("/v1/sei/ota/messages/{message_id}/ack"),
            &ota,
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, v) = s.get("/v1/sei/ota/messages?wait=0", &ota).await;
    assert!(
        v["messages"].as_array().unwrap().is_empty(),
        "acknowledged messages are gone"
    );

    // The resumed session re-sent nothing: every command the element answered was accepted.
    let log = s.store.tsm_apdus("bank-tsm", "r1").await.unwrap();
    let refused = log
        .iter()
        .filter(|r| r.direction == 'R' && r.apdu.ends_with(&[0x69, 0x85]))
        .count();
    assert_eq!(refused, 0);
    // At level 33 the relay (and the log) never saw the domain's AID in the clear after
    // EXTERNAL AUTHENTICATE.
    let ssd = hex::decode(SSD).unwrap();
    assert!(
        !log.iter()
            .any(|r| r.apdu.windows(ssd.len()).any(|w| w == ssd))
    );

    // The provider receives the initial keys, takes the domain over, and the carrier is out.
    let (_, v) = s.get("/v1/sei/service-requests/r1", &sp).await;
    assert_eq!(v["state"], "DONE");
    let crypto = AwsLcProvider::new();
    let ssd_aid: Aid = SSD.parse().unwrap();
    let initial = open_initial_keys(
        &crypto,
        &sp_key,
        v["handover"].as_str().unwrap(),
        "se-1",
        &ssd_aid,
        "r1",
    )
    .unwrap();
    let own = StaticKeys::from_bytes(0x31, &[9; 32], &[8; 32], &[7; 32]).unwrap();
    let plan = TakeOverKeys {
        initial: initial.clone(),
        own: own.clone(),
    };
    let (mut session, mut apdu) = AdminSession::start(
        &ssd_aid,
        vec![(own, [1; 8]), (initial.clone(), [2; 8])],
        SecurityLevel::FULL,
        Box::new(plan),
    );
    loop {
        match session.on_response(&se.transmit(&apdu)).unwrap() {
            Next::Send(next) => apdu = next,
            Next::Done(report) => {
                assert_eq!(report.applied.len(), 1);
                break;
            }
        }
    }
    // Now a session with the carrier's copy of the initial keys cannot even open.
    let plan = TakeOverKeys {
        initial: initial.clone(),
        own: initial.clone(),
    };
    let (mut session, apdu) = AdminSession::start(
        &ssd_aid,
        vec![(initial, [3; 8])],
        SecurityLevel::FULL,
        Box::new(plan),
    );
    let mut next = session.on_response(&se.transmit(&apdu)).unwrap();
    let err = loop {
        match next {
            Next::Send(apdu) => match session.on_response(&se.transmit(&apdu)) {
                Ok(n) => next = n,
                Err(e) => break e,
            },
            Next::Done(_) => panic!("the carrier's keys opened the issuer's domain"),
        }
    };
    assert_eq!(err.code(), provisio_types::Code::NoSession);
    // A repeated CREATE_DOMAIN request is the same, DONE, request.
    let (st, v) = s.post("/v1/sei/service-requests", &sp, create("r1")).await;
    assert_eq!((st, v["state"].as_str()), (StatusCode::OK, Some("DONE")));
    let delegate = json!({"request_id": "p1", "se_id": "se-1", "kind": "DELEGATE_PERSONALIZATION", "ssd": SSD, "sp_endpoint": "https://sp.example/v1/sp"});
    let (st, _) = s.post("/v1/sei/service-requests", &sp, delegate).await;
    assert_eq!(st, StatusCode::CREATED);
    let (_, v) = s.get("/v1/sei/ota/messages?wait=0", &ota).await;
    assert_eq!(v["messages"][0]["connect"], "https://sp.example/v1/sp");
}

#[tokio::test]
async fn a_server_restart_mid_session_is_resumed_by_a_new_session() {
    let mut s = sei().await;
    let (ota, sp, _) = registered(&s).await;
    s.post("/v1/sei/service-requests", &sp, create("r1")).await;
    let mut se = element();
    let (_, v) = s
        .post(
            "/v1/sei/ota/sessions",
            &ota,
            json!({"sp_id": "bank-tsm", "request_id": "r1"}),
        )
        .await;
    let sid = v["session_id"].as_str().unwrap().to_owned();
    let response = se.transmit(&hex::decode(v["apdu"].as_str().unwrap()).unwrap());

    // A new server process on the same database.
    let store = Arc::new(SqlStore::open(&s.db).await.unwrap());
    s.base = serve(store, &s.master).await;
    let (st, v) = s
        .post(
            &format!("/v1/sei/ota/sessions/{sid}"),
            &ota,
            json!({"apdu": hex::encode(response)}),
        )
        .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("session_gone"))
    );
    assert_eq!(
        relay(&s, &ota, &mut se, "r1", Relay::Faithful).await,
        Ok(true)
    );
    let (_, v) = s.get("/v1/sei/service-requests/r1", &sp).await;
    assert_eq!(v["state"], "DONE");
    assert!(v["handover"].is_string());
}

#[tokio::test]
async fn a_tampered_apdu_is_refused_by_the_element_and_the_request_still_completes() {
    let s = sei().await;
    let (ota, sp, _) = registered(&s).await;
    s.post("/v1/sei/service-requests", &sp, create("r1")).await;
    let mut se = element();
    let err = relay(&s, &ota, &mut se, "r1", Relay::Tamper(6))
        .await
        .unwrap_err();
    assert_eq!(err, "element_refused");
    assert_eq!(
        relay(&s, &ota, &mut se, "r1", Relay::Faithful).await,
        Ok(true)
    );
    // Another element's OTA client cannot drive this request.
    let k = isd_keys();
    let hx = |key: &provisio_crypto::AesKey| hex::encode(key.export().expose());
    let (_, v) = s
        .post("/v1/sei/admin/elements", ADMIN, json!({"se_id": "se-2", "isd_keys": {"kvn": "30", "enc": hx(&k.enc), "mac": hx(&k.mac), "dek": hx(&k.dek)}}))
        .await;
    let other = v["ota_key"].as_str().unwrap().to_owned();
    let (st, _) = s
        .post(
            "/v1/sei/ota/sessions",
            &other,
            json!({"sp_id": "bank-tsm", "request_id": "r1"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_message_delivered_again_after_its_request_finished_is_just_acknowledged() {
    let s = sei().await;
    let (ota, sp, _) = registered(&s).await;
    s.post("/v1/sei/service-requests", &sp, create("r1")).await;
    let mut se = element();
    assert_eq!(
        relay(&s, &ota, &mut se, "r1", Relay::Faithful).await,
        Ok(true)
    );
    // The ack was lost: the message comes again, and the request is DONE.
    let (st, v) = s
        .post(
            "/v1/sei/ota/sessions",
            &ota,
            json!({"sp_id": "bank-tsm", "request_id": "r1"}),
        )
        .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("nothing_to_do"))
    );
    let client = provisio_client::ProvisioClient::new(&s.base, &ota);
    let mut images = provisio_client::LastImage::default();
    let mut ota_client = provisio_apps::OtaClient::new(se);
    let run = provisio_client::ota_pass(&client, &mut ota_client, &mut images, 0, None)
        .await
        .unwrap();
    assert_eq!((run.messages, run.commands), (1, 0));
    let (_, v) = s.get("/v1/sei/ota/messages?wait=0", &ota).await;
    assert!(v["messages"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let s = sei().await;
    let doc: Value = reqwest::get(format!("{}/openapi.json", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/sei/admin/elements",
        "/v1/sei/admin/service-providers",
        "/v1/sei/service-requests",
        "/v1/sei/service-requests/{request_id}",
        "/v1/sei/ota/messages",
        "/v1/sei/ota/messages/{message_id}/ack",
        "/v1/sei/ota/sessions",
        "/v1/sei/ota/sessions/{session_id}",
    ] {
        assert!(paths.contains_key(p), "{p}");
    }
    assert!(doc["components"]["schemas"]["ServiceRequest"].is_object());
}
