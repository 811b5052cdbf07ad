//! The mock LLM (the `clawchaos-mock-llm` crate), served inside the harness.

use std::future::Future;
use std::net::SocketAddr;

use clawchaos_mock_llm::{MockLlm, MockLlmConfig};

use crate::backend::in_process::{InProcessServer, serve};
use crate::backend::{BackendError, Plan, Ready, Recipe, Run, StartContext};

impl InProcessServer for MockLlm {
    fn addr(&self) -> SocketAddr {
        MockLlm::addr(self)
    }

    fn shutdown(self) -> impl Future<Output = ()> + Send {
        MockLlm::shutdown(self)
    }
}

/// A mock LLM serving `models`, answering `reply`.
pub struct MockLlmRecipe<'a> {
    /// The models it serves.
    pub models: &'a [String],
    /// The assistant's reply text.
    pub reply: &'a str,
}

impl Recipe for MockLlmRecipe<'_> {
    fn plan(&self, name: &str, context: &StartContext) -> Result<Plan, BackendError> {
        let name = name.to_string();
        let config = MockLlmConfig {
            addr: SocketAddr::new(context.host.listen_ip(), 0),
            models: self.models.to_vec(),
            reply: self.reply.to_string(),
        };
        Ok(Plan::new(Run::InProcess(Box::new(move || {
            Box::pin(async move {
                let server = MockLlm::start(config)
                    .await
                    .map_err(|e| BackendError::setup(&name, e))?;
                Ok(serve(&name, server))
            })
        }))))
    }

    fn ready(&self) -> Ready {
        Ready::Started
    }
}
