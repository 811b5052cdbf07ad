//! The control clients of a run's services, in one place: the mock LLMs' behaviour API and the
//! token services' control API, by service name. Probes read the mock's journal through them;
//! faults change the behaviour or the mode through them.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::mock_llm::MockLlmClient;
use super::token_service::TokenServiceClient;

/// The control API a service kind has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlApi {
    /// The mock LLM's `/_mock/*` endpoints, on its own address.
    MockLlm,
    /// The token service's control endpoints, on its control address.
    TokenService,
}

/// Every control client of a run.
#[derive(Debug, Clone, Default)]
pub struct Controls {
    /// Mock LLM clients by service name.
    pub mock_llms: BTreeMap<String, MockLlmClient>,
    /// Token service clients by service name.
    pub token_services: BTreeMap<String, TokenServiceClient>,
}

impl Controls {
    /// Adds the client of `service`'s control API, which listens on `addr`.
    pub fn add(&mut self, service: &str, api: ControlApi, addr: SocketAddr) {
        let url = format!("http://{addr}");
        match api {
            ControlApi::MockLlm => {
                self.mock_llms
                    .insert(service.to_string(), MockLlmClient::new(url));
            }
            ControlApi::TokenService => {
                self.token_services
                    .insert(service.to_string(), TokenServiceClient::new(url));
            }
        }
    }
}
