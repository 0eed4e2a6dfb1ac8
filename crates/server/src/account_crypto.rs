//! How account data is kept at rest: user data and questions sealed in the vault with
//! associated data naming their row, the right option and the enrolment data only as keyed
//! hashes (docs/architecture.md §3: "KBA answers stored hashed").

use provisio_accounts::Question;
use provisio_accounts::wire::AccountUser;
use provisio_tsp::Sealed;

use crate::{ApiError, AppState};

/// Seals a new account's user data.
pub(crate) fn seal_user(
    state: &AppState,
    account_id: &str,
    user: &AccountUser,
) -> Result<Sealed, ApiError> {
    let json = serde_json::to_vec(user).map_err(|e| ApiError::internal(&e))?;
    state
        .keys
        .vault()
        .seal(state.crypto.as_ref(), &json, &user_aad(account_id))
        .map_err(|e| ApiError::internal(&e))
}

/// Opens an account's user data.
pub(crate) fn open_user(
    state: &AppState,
    account_id: &str,
    sealed: &Sealed,
) -> Result<AccountUser, ApiError> {
    let json = state
        .keys
        .vault()
        .open(state.crypto.as_ref(), sealed, &user_aad(account_id))
        .map_err(|e| ApiError::internal(&e))?;
    serde_json::from_slice(json.expose()).map_err(|e| ApiError::internal(&e))
}

/// Seals a question for the bank or an account's drawn questions.
pub(crate) fn seal_question(state: &AppState, question: &Question) -> Result<Vec<u8>, ApiError> {
    let json = serde_json::to_vec(question).map_err(|e| ApiError::internal(&e))?;
    state
        .keys
        .vault()
        .seal(state.crypto.as_ref(), &json, &question_aad(&question.id))
        .map(|s| s.to_bytes())
        .map_err(|e| ApiError::internal(&e))
}

/// Opens a sealed question.
pub(crate) fn open_question(
    state: &AppState,
    question_id: &str,
    sealed: &[u8],
) -> Result<Question, ApiError> {
    let sealed = Sealed::from_bytes(sealed)
        .ok_or_else(|| ApiError::internal(&"stored question is not a sealed value"))?;
    let json = state
        .keys
        .vault()
        .open(state.crypto.as_ref(), &sealed, &question_aad(question_id))
        .map_err(|e| ApiError::internal(&e))?;
    serde_json::from_slice(json.expose()).map_err(|e| ApiError::internal(&e))
}

/// The keyed hash that marks `option_id` as the right option of `question_id`.
pub(crate) fn answer_mac(state: &AppState, question_id: &str, option_id: &str) -> [u8; 32] {
    state.keys.vault().lookup_hash(
        state.crypto.as_ref(),
        "kba_answer",
        &format!("{question_id}\0{option_id}"),
    )
}

/// Keyed hashes of a name, phone and e-mail, normalised (case, spacing, phone punctuation)
/// so that formatting differences are not mismatches.
pub(crate) fn identity_hashes(
    state: &AppState,
    name: &str,
    phone: &str,
    email: &str,
) -> [[u8; 32]; 3] {
    let vault = state.keys.vault();
    let crypto = state.crypto.as_ref();
    let name = name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let phone: String = phone.chars().filter(char::is_ascii_digit).collect();
    let email = email.trim().to_lowercase();
    [
        vault.lookup_hash(crypto, "enrol_name", &name),
        vault.lookup_hash(crypto, "enrol_phone", &phone),
        vault.lookup_hash(crypto, "enrol_email", &email),
    ]
}

fn user_aad(account_id: &str) -> Vec<u8> {
    format!("wallet_account_user|{account_id}").into_bytes()
}

fn question_aad(question_id: &str) -> Vec<u8> {
    format!("kba_question|{question_id}").into_bytes()
}
