//! An admin session: a TSM's SCP03 session with one security domain, carried one APDU at a
//! time by a relay it does not trust (the phone's OTA client, in the spirit of GlobalPlatform
//! Amendment B's remote admin sessions).
//!
//! ```text
//!  SELECT ─► INITIALIZE UPDATE (key set 1, or the next if the card says 6A88)
//!         ─► EXTERNAL AUTHENTICATE ─► GET STATUS (… 6310 … ) ─► GET DATA 00E0
//!         ─► plan.steps(survey) ─► step 1 ─► … ─► step n ─► done
//! ```
//!
//! Sans-IO: [`AdminSession::start`] gives the first command APDU, [`AdminSession::on_response`]
//! takes each response APDU and gives the next command or the report. At level 33 everything
//! after EXTERNAL AUTHENTICATE is ciphertext to the relay.

use provisio_gp::command::{
    StatusEntry, Subset, TAG_KEY_INFORMATION, get_data, get_status, parse_key_information, select,
};
use provisio_gp::scp03::{HostChannel, HostHandshake, SecurityLevel, StaticKeys};
use provisio_gp::{Aid, Command, Response, StatusWord};

use crate::TsmError;
use crate::plan::{Plan, Step, Survey};

/// What to send next, or how the session ended.
#[derive(Debug)]
pub enum Next {
    /// Relay this command APDU to the element.
    Send(Vec<u8>),
    /// The plan is complete on the element.
    Done(Report),
}

/// A completed session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The key version the session opened with.
    pub kvn: u8,
    /// The labels of the steps applied in this session, in order (empty: nothing was left).
    pub applied: Vec<String>,
}

/// One admin session.
pub struct AdminSession {
    key_sets: Vec<(StaticKeys, [u8; 8])>,
    level: SecurityLevel,
    plan: Box<dyn Plan>,
    state: State,
    kvn: u8,
    applied: Vec<String>,
}

enum State {
    Selecting,
    Initializing {
        index: usize,
        handshake: HostHandshake,
    },
    Authenticating {
        channel: HostChannel,
    },
    SurveyingApps {
        channel: HostChannel,
        apps: Vec<StatusEntry>,
    },
    SurveyingKeys {
        channel: HostChannel,
        apps: Vec<StatusEntry>,
    },
    Running {
        channel: HostChannel,
        steps: Vec<Step>,
        index: usize,
    },
    Finished,
}

impl AdminSession {
    /// Starts a session with security domain `sd` at `level`. `key_sets` are tried in order,
    /// each with its own fresh random host challenge, while the card answers INITIALIZE UPDATE
    /// with `6A88` (key version not found). Returns the session and the first APDU (SELECT).
    pub fn start(
        sd: &Aid,
        key_sets: Vec<(StaticKeys, [u8; 8])>,
        level: SecurityLevel,
        plan: Box<dyn Plan>,
    ) -> (Self, Vec<u8>) {
        let session = Self {
            key_sets,
            level,
            plan,
            state: State::Selecting,
            kvn: 0,
            applied: Vec::new(),
        };
        (session, encode(&select(sd)))
    }

    /// The steps applied so far in this session (what to record if it breaks off).
    pub fn applied(&self) -> &[String] {
        &self.applied
    }

    /// Takes the element's response to the last command.
    pub fn on_response(&mut self, bytes: &[u8]) -> Result<Next, TsmError> {
        let resp = Response::parse(bytes)?;
        let state = std::mem::replace(&mut self.state, State::Finished);
        let (state, next) = self.advance(state, resp)?;
        self.state = state;
        Ok(next)
    }

    fn initialize(&mut self, index: usize) -> Result<(State, Next), TsmError> {
        let Some((keys, challenge)) = self.key_sets.get(index) else {
            return Err(TsmError::NoSession {
                stage: "INITIALIZE UPDATE",
                sw: StatusWord::REFERENCED_DATA_NOT_FOUND,
            });
        };
        let handshake = HostHandshake::new(keys.clone(), *challenge, self.level);
        let cmd = encode(&handshake.initialize_update());
        Ok((State::Initializing { index, handshake }, Next::Send(cmd)))
    }

    fn advance(&mut self, state: State, resp: Response) -> Result<(State, Next), TsmError> {
        match state {
            State::Selecting => {
                expect(resp.sw, "SELECT")?;
                self.initialize(0)
            }
            State::Initializing { index, handshake } => {
                if resp.sw == StatusWord::REFERENCED_DATA_NOT_FOUND
                    && index + 1 < self.key_sets.len()
                {
                    return self.initialize(index + 1);
                }
                expect(resp.sw, "INITIALIZE UPDATE")?;
                let (ext, channel) = handshake.handle_init_update(&resp.data)?;
                self.kvn = self.key_sets.get(index).map_or(0, |(k, _)| k.kvn);
                Ok((State::Authenticating { channel }, Next::Send(encode(&ext))))
            }
            State::Authenticating { mut channel } => {
                expect(resp.sw, "EXTERNAL AUTHENTICATE")?;
                let cmd = wrap(&mut channel, get_status(Subset::Applications, false))?;
                Ok((
                    State::SurveyingApps {
                        channel,
                        apps: Vec::new(),
                    },
                    Next::Send(cmd),
                ))
            }
            State::SurveyingApps {
                mut channel,
                mut apps,
            } => {
                let resp = channel.unwrap(resp)?;
                match resp.sw {
                    StatusWord::OK | StatusWord::MORE_DATA => {
                        apps.extend(StatusEntry::parse_all(&resp.data)?)
                    }
                    // Nothing visible to this domain.
                    StatusWord::REFERENCED_DATA_NOT_FOUND => {}
                    sw => {
                        return Err(TsmError::Refused {
                            step: "GET STATUS".into(),
                            sw,
                        });
                    }
                }
                if resp.sw == StatusWord::MORE_DATA {
                    let cmd = wrap(&mut channel, get_status(Subset::Applications, true))?;
                    return Ok((State::SurveyingApps { channel, apps }, Next::Send(cmd)));
                }
                let cmd = wrap(&mut channel, get_data(TAG_KEY_INFORMATION))?;
                Ok((State::SurveyingKeys { channel, apps }, Next::Send(cmd)))
            }
            State::SurveyingKeys { channel, apps } => {
                let resp = channel.unwrap(resp)?;
                let keys = match resp.sw {
                    StatusWord::OK => parse_key_information(&resp.data)?,
                    _ => Vec::new(),
                };
                let steps = self.plan.steps(&Survey { apps, keys });
                self.run(channel, steps, 0)
            }
            State::Running {
                channel,
                steps,
                index,
            } => {
                let resp = channel.unwrap(resp)?;
                let Some(current) = steps.get(index) else {
                    return Err(TsmError::Finished);
                };
                if !current.accept.contains(&resp.sw) {
                    return Err(TsmError::Refused {
                        step: current.label.clone(),
                        sw: resp.sw,
                    });
                }
                self.applied.push(current.label.clone());
                self.run(channel, steps, index + 1)
            }
            State::Finished => Err(TsmError::Finished),
        }
    }

    /// Sends step `index`, or reports when none is left.
    fn run(
        &mut self,
        mut channel: HostChannel,
        steps: Vec<Step>,
        index: usize,
    ) -> Result<(State, Next), TsmError> {
        match steps.get(index) {
            None => {
                let report = Report {
                    kvn: self.kvn,
                    applied: self.applied.clone(),
                };
                Ok((State::Finished, Next::Done(report)))
            }
            Some(step) => {
                let cmd = wrap(&mut channel, step.command.clone())?;
                Ok((
                    State::Running {
                        channel,
                        steps,
                        index,
                    },
                    Next::Send(cmd),
                ))
            }
        }
    }
}

fn expect(sw: StatusWord, stage: &'static str) -> Result<(), TsmError> {
    if sw == StatusWord::OK {
        Ok(())
    } else {
        Err(TsmError::NoSession { stage, sw })
    }
}

fn wrap(channel: &mut HostChannel, cmd: Command) -> Result<Vec<u8>, TsmError> {
    Ok(channel.wrap(cmd)?.encode()?)
}

fn encode(cmd: &Command) -> Vec<u8> {
    // Commands built here are short and well-formed, so encoding cannot fail.
    cmd.encode().unwrap_or_default()
}
