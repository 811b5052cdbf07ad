//! The mock LLM (the `clawchaos-mock-llm` crate): served inside the harness where the host
//! allows it (this machine), else its program runs on the host (a container).

use std::future::Future;
use std::net::SocketAddr;

use clawchaos_mock_llm::{MockLlm, MockLlmConfig};

use crate::backend::in_process::{InProcessServer, serve};
use crate::backend::{BackendError, Plan, Program, Ready, Recipe, Run, StartContext};

/// The mock LLM's program (built by `cargo build -p clawchaos-mock-llm`).
pub const BINARY: &str = "clawchaos-mock-llm";
/// How long its program may take to accept connections.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

/// Where the mock LLM's program is: `CLAWCHAOS_MOCK_LLM_BIN`, else beside the harness.
pub fn locate_binary() -> Result<std::path::PathBuf, String> {
    crate::backend::ports::our_binary(BINARY, "CLAWCHAOS_MOCK_LLM_BIN", "clawchaos-mock-llm")
}

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
        if !context.host.serves_in_process() {
            return self.program(name, context);
        }
        let name = name.to_string();
        let config = MockLlmConfig {
            // Where links listen: the harness's own address on the run's network.
            addr: SocketAddr::new(context.host.link_ip(), 0),
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
        // At once in-process (it listens when started); its program, when it accepts.
        Ready::Port {
            within: READY_WITHIN,
        }
    }
}

impl MockLlmRecipe<'_> {
    /// The mock LLM as its program (`clawchaos-mock-llm --host IP --port N --model M --reply R`).
    fn program(&self, name: &str, context: &StartContext) -> Result<Plan, BackendError> {
        let port = context.port_for(name)?;
        let mut args = vec![
            "--host".to_string(),
            context.host.listen_ip().to_string(),
            "--port".to_string(),
            port.to_string(),
            "--reply".to_string(),
            self.reply.to_string(),
        ];
        for model in self.models {
            args.extend(["--model".to_string(), model.clone()]);
        }
        context.our_program(
            name,
            Program::MockLlm,
            args,
            port,
            context.service_dir(name)?,
        )
    }
}
