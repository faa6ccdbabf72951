//! A small blocking client for the API: the CLI does one thing at a time.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use ureq::Agent;

pub struct Client {
    base: String,
    agent: Agent,
    /// `ADVMIX_TOKEN`, for servers that require one.
    token: Option<String>,
}

impl Client {
    pub fn new(url: &str) -> Client {
        let agent = Agent::config_builder()
            // API errors are JSON bodies with a message; read them instead of
            // turning them into transport errors.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .build()
            .into();
        let token = std::env::var("ADVMIX_TOKEN").ok().filter(|t| !t.is_empty());
        Client { base: format!("{}/api/v1", url.trim_end_matches('/')), agent, token }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, e: ureq::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot reach the advmix server at {} ({e}): start it with `make run`, or point --url / ADVMIX_URL at it",
            self.base.trim_end_matches("/api/v1")
        )
    }

    /// The body as JSON, or the API's error message.
    fn json(mut response: ureq::http::Response<ureq::Body>) -> anyhow::Result<Value> {
        let status = response.status();
        let text = response.body_mut().read_to_string().context("reading the server's answer")?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let message = body["error"].as_str().map(str::to_owned).unwrap_or_else(|| body.to_string());
            bail!("the server refused ({status}): {message}");
        }
        Ok(body)
    }

    fn authorize<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.authorize(self.agent.get(self.url(path))).call().map_err(|e| self.unreachable(e))?;
        Self::json(response)
    }

    /// A GET of one thing: None when the server has no such thing (404),
    /// so that a command can say which one in its own words.
    pub fn get_one(&self, path: &str) -> anyhow::Result<Option<Value>> {
        let response = self.authorize(self.agent.get(self.url(path))).call().map_err(|e| self.unreachable(e))?;
        if response.status() == 404 {
            return Ok(None);
        }
        Self::json(response).map(Some)
    }

    pub fn post(&self, path: &str, content_type: &str, body: &str) -> anyhow::Result<Value> {
        let request = self.authorize(self.agent.post(self.url(path))).header("content-type", content_type);
        let response = request.send(body).map_err(|e| self.unreachable(e))?;
        Self::json(response)
    }

    /// A GET whose answer is text (a table export), or the API's error.
    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let (_, _, mut body) = self.stream(path, 0)?;
        let mut text = String::new();
        body.read_to_string(&mut text).context("reading the server's answer")?;
        Ok(text)
    }

    /// A streaming GET, from byte `offset` on (a `Range` request when > 0).
    pub fn stream(&self, path: &str, offset: u64) -> anyhow::Result<(u16, Option<u64>, Box<dyn Read + Send>)> {
        let mut request = self.authorize(self.agent.get(self.url(path)));
        if offset > 0 {
            request = request.header("range", format!("bytes={offset}-"));
        }
        let response = request.call().map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        if status >= 400 {
            Self::json(response)?;
            bail!("the server answered {status}");
        }
        let length = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok((status, length, Box::new(response.into_body().into_reader())))
    }
}
