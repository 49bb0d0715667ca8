//! `DD_API_KEY_SSM_ARN`: SSM `GetParameter` with decryption, as one AWS JSON-protocol call signed
//! by the AWS SDK's own SigV4 signer (`aws-sigv4`). The SDK's SSM client would cost ~930 KB of
//! binary for this single call (measured: 5,921,792 → 6,849,304 bytes stripped), more than the
//! 6 MB budget allows; the signer is already part of the binary. The region comes from the
//! ARN, else `AWS_REGION`; `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL` are honoured, and the
//! standard proxy variables as for the other AWS calls. Errors never carry the value.

use super::resolve::{CALL_TIMEOUT, ResolveError};
use crate::config::AwsEnv;
use crate::secret::Secret;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use std::time::SystemTime;

const TARGET: &str = "AmazonSSM.GetParameter";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const PERMISSION: &str = "ssm:GetParameter on the parameter (and kms:Decrypt on its key)";

/// The parameter's value: the key as stored (Datadog's extension reads no JSON form here).
pub(crate) async fn get_parameter(
    aws: &AwsEnv,
    arn: &str,
    credentials: Credentials,
) -> Result<Secret, ResolveError> {
    let region = region_of(arn)
        .or_else(|| aws.region.clone())
        .ok_or(ResolveError::NoRegion)?;
    let endpoint = match aws.endpoint_url_ssm.as_ref().or(aws.endpoint_url.as_ref()) {
        Some(url) => url.trim_end_matches('/').to_string(),
        None if region.starts_with("cn-") => format!("https://ssm.{region}.amazonaws.com.cn"),
        None => format!("https://ssm.{region}.amazonaws.com"),
    };
    let body = serde_json::json!({ "Name": arn, "WithDecryption": true }).to_string();
    let signed = signed_headers(&endpoint, &region, &body, credentials)?;
    let mut client = reqwest::Client::builder().timeout(CALL_TIMEOUT);
    if !aws.proxy_from_env {
        client = client.no_proxy();
    }
    let client = client
        .build()
        .map_err(|e| ResolveError::Aws(format!("HTTP client: {e}")))?;
    let mut req = client
        .post(&endpoint)
        .header("content-type", CONTENT_TYPE)
        .header("x-amz-target", TARGET)
        .body(body);
    for (k, v) in &signed {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.send().await.map_err(|e| {
        ResolveError::Aws(crate::secret::redact(&crate::intake::error_chain(&e)).into_owned())
    })?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(answer_error(status, &answer));
    }
    answer["Parameter"]["Value"]
        .as_str()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(Secret::new)
        .ok_or(ResolveError::Empty)
}

/// The fourth field of an ARN (`arn:aws:ssm:<region>:…`); a bare parameter name has none.
fn region_of(arn: &str) -> Option<String> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn"))
        .then(|| parts.nth(2))
        .flatten()
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// The SigV4 headers (`authorization`, `x-amz-date`, the session token) for one POST.
fn signed_headers(
    endpoint: &str,
    region: &str,
    body: &str,
    credentials: Credentials,
) -> Result<Vec<(String, String)>, ResolveError> {
    let fail = |e: &dyn std::fmt::Display| ResolveError::Aws(format!("signing the request: {e}"));
    let identity = credentials.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("ssm")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| fail(&e))?
        .into();
    let headers = [("content-type", CONTENT_TYPE), ("x-amz-target", TARGET)];
    let request = SignableRequest::new(
        "POST",
        endpoint,
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| fail(&e))?;
    let (instructions, _) = sign(request, &params).map_err(|e| fail(&e))?.into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// AWS's error answer (`{"__type": "…#ParameterNotFound", "message": …}`) as one line.
fn answer_error(status: u16, answer: &serde_json::Value) -> ResolveError {
    let code = answer["__type"]
        .as_str()
        .map(|t| t.rsplit('#').next().unwrap_or(t));
    let message = answer["message"]
        .as_str()
        .or_else(|| answer["Message"].as_str());
    let t = super::resolve::answered(status, code, message, PERMISSION);
    ResolveError::Aws(crate::secret::redact(&t).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_the_arn_only_when_there_is_one() {
        assert_eq!(
            region_of("arn:aws:ssm:eu-west-1:123456789012:parameter/dd/key").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of("/dd/key"), None);
        assert_eq!(region_of("arn:aws:ssm::1:parameter/x"), None);
    }

    #[test]
    fn an_aws_error_answer_reads_as_one_line() {
        let e = answer_error(
            400,
            &serde_json::json!({"__type": "com.amazonaws#ParameterNotFound", "message": "nope"}),
        );
        assert_eq!(
            e.to_string(),
            "AWS call failed: AWS answered HTTP 400 ParameterNotFound: nope"
        );
        let e = answer_error(403, &serde_json::json!({"__type": "AccessDeniedException"}));
        assert!(e.to_string().contains("ssm:GetParameter"));
    }
}
