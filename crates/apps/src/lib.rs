//! The issuer-app and wallet-app cores of push provisioning (US 10,243,958), sans-IO.
//!
//! These are what the mobile SDKs wrap. Steps 1 to 4 of docs/protocol.md §3.1 happen between
//! the two apps on the phone; step 5 is the wallet's call to the token service, which the
//! `provisio-client` crate makes over HTTP.
//!
//! ```text
//!  GET /v1/wallet-module ──► WalletApp::install_module (verified) ──► account_request
//!       └──► POST /v1/wallet-accounts, KBA ──► ACTIVE (hosted wallets only)
//!  IssuerApp::start_session ──(session_id, issuer_id)──► WalletApp::answer
//!  IssuerApp::request_data ◄──(session_id, uid, did, trid)──┘
//!       └──(JWE)──► WalletApp::push_request ──► POST /v1/push-provisioning
//!                   WalletApp::open_access_data ◄── access_data
//!                   WalletApp::install(script) ──► POST .../script-report
//!  terminal ──(amount, currency, country, date, UN)──► WalletApp::pay(token_ref_id, tx, persist)
//!       ├─ next ATC recorded ──► persist(&PaymentState) (the app stores it durably)
//!       └─ stored ──► Payment { token PAN, expiry, ATC, ARQC } ──► terminal ──► §16.3
//!  restart: stored PaymentState ──► WalletApp::restore_payment_state (ATCs continue)
//! ```

mod error;
mod issuer_app;
mod ota;
mod payment;
mod wallet_app;

pub use error::AppError;
pub use issuer_app::{CardDetails, IssuerApp, SessionStart, seal_request_data};
pub use ota::{OtaClient, Relayed};
pub use payment::{InstalledCard, PAYMENT_STATE_VERSION, Payment, PaymentState};
pub use wallet_app::{SDK_VERSION, WalletAnswer, WalletApp};
