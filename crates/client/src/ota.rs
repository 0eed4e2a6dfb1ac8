//! The phone's OTA client loop over HTTP (US 8,060,449 steps 3, 4 and 6): fetch the carrier
//! TSM's wake-up messages, open each admin session where the message says (the SEI-TSM, or
//! the SP-TSM the carrier delegated to), relay every command to the element through
//! [`OtaClient`], and acknowledge the message once its sessions are done.

use provisio_apps::OtaClient;
use provisio_tsm::wire::{Message, OpenSession, Relayed, SessionStep};

use crate::{ClientError, ProvisioClient};

/// Where the image of the element goes before a response leaves the phone.
pub trait ImageSink {
    /// Stores the element's memory image durably.
    fn store(&mut self, image: &str) -> Result<(), ClientError>;
}

/// An image sink that keeps only the last image in memory (tests, the demo).
#[derive(Debug, Default)]
pub struct LastImage(pub Option<String>);

impl ImageSink for LastImage {
    fn store(&mut self, image: &str) -> Result<(), ClientError> {
        self.0 = Some(image.to_owned());
        Ok(())
    }
}

/// What a pass over the messages did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OtaRun {
    /// Messages handled and acknowledged.
    pub messages: usize,
    /// Sessions run to the end.
    pub sessions: usize,
    /// Commands relayed to the element.
    pub commands: usize,
}

/// Handles the carrier's pending messages (waiting up to `wait_s` for the first), each to the
/// end. `drop_after`: stop relaying after that many commands in total, as a phone that loses
/// its connection would (the messages stay pending).
pub async fn ota_pass(
    sei: &ProvisioClient,
    ota: &mut OtaClient,
    images: &mut dyn ImageSink,
    wait_s: u64,
    drop_after: Option<usize>,
) -> Result<OtaRun, ClientError> {
    let mut run = OtaRun::default();
    for message in sei.ota_messages(wait_s).await?.messages {
        if !handle(sei, ota, images, &message, &mut run, drop_after).await? {
            return Ok(run);
        }
        sei.ota_ack(&message.message_id).await?;
        run.messages += 1;
    }
    Ok(run)
}

/// Runs a message's sessions; false if the connection "dropped".
async fn handle(
    sei: &ProvisioClient,
    ota: &mut OtaClient,
    images: &mut dyn ImageSink,
    message: &Message,
    run: &mut OtaRun,
    drop_after: Option<usize>,
) -> Result<bool, ClientError> {
    let (api, path) = if message.wake.connect == "SEI" {
        (sei.clone(), "/v1/sei/ota/sessions".to_owned())
    } else {
        // `<base>/v1/sp/ota#<ticket>`: the ticket never travels in a URL the server sees.
        let (url, ticket) = message
            .wake
            .connect
            .split_once('#')
            .ok_or_else(|| ClientError::Transport("delegation without a ticket".into()))?;
        let (base, _) = url
            .split_once("/v1/")
            .ok_or_else(|| ClientError::Transport("unexpected delegation URL".into()))?;
        (sei.at(base, ticket), "/v1/sp/ota/sessions".to_owned())
    };
    let open = OpenSession {
        sp_id: message.wake.sp_id.clone(),
        request_id: message.wake.request_id.clone(),
    };
    let mut opened = 0;
    loop {
        let mut step: SessionStep = match api.post(&path, &open, None).await {
            Ok(step) => step,
            // The TSM is not ready for this message yet: keep it, try on the next pass.
            Err(e) if e.code() == Some("not_ready") && opened == 0 => return Ok(false),
            // Finished already (an acknowledgement that was lost): done with the message.
            Err(e) if e.code() == Some("nothing_to_do") => return Ok(true),
            Err(e) => return Err(e),
        };
        while let Some(command) = step.apdu.clone() {
            let relayed = ota
                .relay(&command)
                .map_err(|e| ClientError::Transport(e.to_string()))?;
            images.store(&relayed.image)?;
            run.commands += 1;
            if drop_after.is_some_and(|d| run.commands >= d) {
                return Ok(false);
            }
            step = api
                .post(
                    &format!("{path}/{}", step.session_id),
                    &Relayed {
                        apdu: relayed.response,
                    },
                    None,
                )
                .await?;
        }
        run.sessions += 1;
        opened += 1;
        if !step.more {
            return Ok(true);
        }
    }
}
